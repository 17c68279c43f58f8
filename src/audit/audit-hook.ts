import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuditEvents, type Audit, type AuditEvent, type Outcome } from './audit.js';
import { queryPairs, splitTarget } from '../auth/canonical.js';
import { AUTH_PARAMETERS } from '../auth/signed-url.js';
import '../routes/route-config.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Why the request failed, for its audit record. */
    auditReason?: string;
    /** The instances a request stored (STOW-RS), for its audit record (PS3.15 A.5.3.4: the objects transferred). */
    auditInstances?: string[];
  }
}

/** Which ATNA event a request is (DCM event IDs, PS3.15 A.5), as its route declares it (route-config.ts). */
const eventOf = (request: FastifyRequest): AuditEvent =>
  AuditEvents[request.routeOptions.config.auditEvent ?? 'transferred'];

const outcomeOf = (status: number): Outcome => (status < 400 ? 0 : status < 500 ? 4 : 8);

/** The query as sent, without credentials (signatures and capabilities do not belong in an audit trail). */
function auditedQuery(url: string): string | undefined {
  const pairs = queryPairs(splitTarget(url).query);
  if (!pairs?.length) return undefined;
  const kept = pairs.filter(([name]) => !AUTH_PARAMETERS.has(name));
  return kept.length ? new URLSearchParams(kept).toString() : undefined;
}

/**
 * One audit record per DICOMweb request, written when the response is done (so the outcome is known). A request
 * refused for its credentials is a Security Alert (110113) with the reason.
 */
export function registerAuditHooks(
  app: FastifyInstance,
  audit: Audit,
  options: { basePath: string; tenant: string },
): void {
  if (!audit.enabled) return;
  app.addHook('onError', async (request, _reply, error) => {
    request.auditReason = error.message;
  });
  app.addHook('onResponse', async (request: FastifyRequest, reply) => {
    const status = reply.statusCode;
    const refused = (status === 401 || status === 403) && !request.principal;
    const params = request.params as { study?: string; series?: string; instance?: string } | undefined;
    const query = auditedQuery(request.url);
    audit.record({
      time: new Date().toISOString(),
      event: refused ? AuditEvents.securityAlert : eventOf(request),
      outcome: outcomeOf(status),
      who: {
        subject: request.principal?.subject ?? 'unauthenticated',
        via: request.principal?.via ?? 'none',
        address: request.ip,
        tenant: options.tenant,
      },
      what: {
        ...(params?.study ? { study: params.study } : {}),
        ...(params?.series ? { series: params.series } : {}),
        ...(params?.instance ? { instance: params.instance } : {}),
        ...(query ? { query } : {}),
        ...(request.auditInstances?.length ? { instances: request.auditInstances } : {}),
      },
      request: { method: request.method, path: splitTarget(request.url).path, status },
      ...(request.auditReason && status >= 400 ? { reason: request.auditReason } : {}),
    });
  });
}
