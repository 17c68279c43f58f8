import type { FastifyReply, FastifyRequest } from 'fastify';
import { Errors, withDetails, withHeaders } from '../errors.js';
import '../routes/route-config.js';
import type { Limit, WindowCounters } from '../shared-state/window-counters.js';

/**
 * Admission control: requests that cost the PACS (searches, and retrievals the cache cannot answer), per client
 * (a bearer token's subject, else the client address) and per tenant, in fixed windows that start at a key's
 * first request. Over either limit → 429 with Retry-After (RFC 6585 §4). What the cache serves is never
 * counted: limits protect the PACS, they do not ration a viewer scrolling a cached series. Counts live where
 * the counters keep them: in this process, or in Redis for every replica (shared-state/).
 */

/** Who a request counts against: its token's subject, else its address (request.ip honours trusted proxies). */
export const clientKey = (request: FastifyRequest): string =>
  request.principal?.via === 'bearer' ? `sub:${request.principal.subject}` : `ip:${request.ip}`;

/**
 * A preHandler (after authentication, so the subject is known) enforcing both limits on requests that cost the
 * PACS; `holdsLocally` says whether a retrieval route's request will be answered without it.
 */
export function rateLimitHook(
  counters: WindowCounters,
  perClient: Limit,
  perTenant: Limit,
  tenant: string,
  holdsLocally: (request: FastifyRequest) => boolean,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request) => {
    const cost = request.routeOptions.config.pacsCost;
    if (!cost || (cost === 'retrieve' && holdsLocally(request))) return;
    // A client is counted within its tenant: the same address or subject in two tenants is two clients.
    const client = await counters.take(`${tenant}:client:${clientKey(request)}`, perClient);
    const whole = client === undefined ? await counters.take(`${tenant}:tenant`, perTenant) : undefined;
    const wait = client ?? whole;
    if (wait === undefined) return;
    const who = client !== undefined ? 'this client' : `tenant "${tenant}"`;
    const limit = client !== undefined ? perClient : perTenant;
    throw withHeaders(
      withDetails(Errors.rateLimited(who, limit.requests, limit.windowSeconds, wait), { retryAfterSeconds: wait }),
      { 'retry-after': String(wait) },
    );
  };
}
