import type { FastifyReply, FastifyRequest } from 'fastify';
import { addWarnings } from './multipart-stream.js';

/**
 * Query parameters a resource does not define are ignored, and said to be (a 299 Warning, as QIDO-RS does for
 * what it does not apply), on every resource alike. Credentials (signature, capability…) are taken out of the
 * query before any route runs, so they never show here.
 */
export function ignoredParameters(query: unknown, known: ReadonlySet<string>): string | undefined {
  const names = Object.keys((query ?? {}) as Record<string, unknown>).filter((name) => !known.has(name));
  return names.length
    ? `query parameter(s) not supported by this resource and ignored: ${names.join(', ')}`
    : undefined;
}

/** A preHandler that puts the Warning on the reply, for resources whose handlers add no warnings of their own. */
export function warnIgnoredParameters(
  known: ReadonlySet<string>,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    const text = ignoredParameters(request.query, known);
    if (text) addWarnings(reply, [text]);
  };
}
