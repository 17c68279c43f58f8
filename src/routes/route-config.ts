import type { Action } from '../auth/policy.js';
import type { AuditEvents } from '../audit/audit.js';

/**
 * What each route declares about itself, read by the hooks that run before it: the auth policy (what it needs),
 * the audit trail (which ATNA event it is) and admission control (what it asks of the PACS). Hooks never guess
 * this from URLs, so a new route (a future POST /studies) is what it says it is.
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the auth policy checks (policy.ts); absent: `read`. */
    action?: Action;
    /** The ATNA event the request is (PS3.15 A.5, audit.ts); absent: none is more specific than Transferred. */
    auditEvent?: keyof typeof AuditEvents;
    /** What a route asks of the PACS: a C-FIND always, a retrieval unless the cache holds the scope. Absent: nothing. */
    pacsCost?: 'search' | 'retrieve';
  }
}

export type RouteConfig = NonNullable<import('fastify').FastifyContextConfig>;
