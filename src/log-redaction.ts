import type { FastifyRequest } from 'fastify';
import { splitTarget } from './auth/canonical.js';

/**
 * Query parameters that carry a credential: a signed URL's signature, a capability, an OAuth token sent as a
 * query parameter (RFC 6750 §2.3). Their values never reach a log line, whatever the settings.
 */
export const CREDENTIAL_PARAMETERS: ReadonlySet<string> = new Set(['signature', 'capability', 'access_token']);

/** What stands in a log line for a value that was left out. */
export const REDACTED = '[REDACTED]';
const ELIDED = '…';

/**
 * A request target as it may be logged: credential values always replaced; every other query value (a search's
 * PatientName, a birth date) replaced too unless the operator asked for them (`log.queryValues`). The names stay,
 * so that a line still says what kind of request it was. The raw text is kept as sent otherwise, so that what is
 * logged matches what a client says it sent.
 */
export function redactTarget(target: string, queryValues: boolean): string {
  const { path, query } = splitTarget(target);
  if (query === '') return target;
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    if (eq < 0) return part;
    const name = part.slice(0, eq);
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // A malformed name is logged as sent; its value is still left out below.
    }
    if (CREDENTIAL_PARAMETERS.has(decoded)) return `${name}=${REDACTED}`;
    return queryValues ? part : `${name}=${ELIDED}`;
  });
  return `${path}?${parts.join('&')}`;
}

/** The request as Fastify's request lines show it ("incoming request"), with the target redacted. */
export function requestSerializer(queryValues: boolean): (req: FastifyRequest) => Record<string, unknown> {
  return (req) => ({
    method: req.method,
    url: redactTarget(req.url, queryValues),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  });
}

/** Paths pino blanks in any line that carries headers: no Authorization value (a token, a key) is ever written. */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'headers.authorization',
  'req.headers.cookie',
  'headers.cookie',
];
