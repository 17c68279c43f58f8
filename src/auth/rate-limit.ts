import type { FastifyReply, FastifyRequest } from 'fastify';
import { Errors, withDetails, withHeaders } from '../errors.js';
import '../routes/route-config.js';

/**
 * Admission control: requests that cost the PACS (searches, and retrievals the cache cannot answer), per client
 * (a bearer token's subject, else the client address) and per tenant, in fixed windows that start at a key's
 * first request. Over either limit → 429
 * with Retry-After (RFC 6585 §4). What the cache serves is never counted: limits protect the PACS, they do not
 * ration a viewer scrolling a cached series. Counts live in memory, bounded: at most `maxKeys` clients are
 * tracked per window (beyond, the oldest windows are dropped first).
 */

export interface Limit {
  /** Requests allowed per window; 0 disables the limit. */
  requests: number;
  windowSeconds: number;
}

export class FixedWindowLimiter {
  private readonly counts = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: Limit,
    private readonly maxKeys = 100_000,
  ) {}

  /**
   * Counts one request for `key`; undefined when allowed, else the seconds until its window ends. A key's window
   * starts at its first request (not on a clock boundary), so a burst cannot straddle two windows and get twice
   * its allowance.
   */
  take(key: string, nowMs: number): number | undefined {
    if (this.limit.requests <= 0) return undefined;
    const windowMs = this.limit.windowSeconds * 1000;
    let entry = this.counts.get(key);
    if (!entry || nowMs >= entry.start + windowMs) {
      if (!entry && this.counts.size >= this.maxKeys) this.prune(nowMs - windowMs);
      entry = { start: nowMs, count: 0 };
      this.counts.delete(key);
      this.counts.set(key, entry); // insertion order = window start order, which prune relies on
    }
    entry.count++;
    if (entry.count <= this.limit.requests) return undefined;
    return Math.max(1, Math.ceil((entry.start + windowMs - nowMs) / 1000));
  }

  /** Drops ended windows, then the oldest, until half the room is free. */
  private prune(endedBefore: number): void {
    for (const [key, entry] of this.counts) {
      if (entry.start <= endedBefore || this.counts.size >= this.maxKeys) this.counts.delete(key);
      if (this.counts.size < this.maxKeys / 2) break;
    }
  }
}

/** Who a request counts against: its token's subject, else its address (request.ip honours trusted proxies). */
export const clientKey = (request: FastifyRequest): string =>
  request.principal?.via === 'bearer' ? `sub:${request.principal.subject}` : `ip:${request.ip}`;

/**
 * A preHandler (after authentication, so the subject is known) enforcing both limits on requests that cost the
 * PACS; `holdsLocally` says whether a retrieval route's request will be answered without it.
 */
export function rateLimitHook(
  perClient: Limit,
  perTenant: Limit,
  tenant: string,
  holdsLocally: (request: FastifyRequest) => boolean,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const clients = new FixedWindowLimiter(perClient);
  const tenants = new FixedWindowLimiter(perTenant, 1024);
  return async (request) => {
    const cost = request.routeOptions.config.pacsCost;
    if (!cost || (cost === 'retrieve' && holdsLocally(request))) return;
    const now = Date.now();
    const client = clients.take(clientKey(request), now);
    const whole = client === undefined ? tenants.take(tenant, now) : undefined;
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
