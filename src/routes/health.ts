import type { FastifyInstance } from 'fastify';
import type { Archive } from '../archive/archive.js';
import { Errors } from '../errors.js';

export interface HealthTarget {
  id: string;
  archive: Pick<Archive, 'readiness'>;
}

/**
 * Liveness, and readiness as the tenant's archive judges it (a PACS: C-ECHO): `/readyz` for the default tenant,
 * `/readyz/tenants/{id}` for each other one — so that one tenant's PACS being down does not take the others out
 * of a load balancer.
 */
export function registerHealthRoutes(app: FastifyInstance, targets: readonly HealthTarget[]): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  const ready = async (target: HealthTarget): Promise<Record<string, unknown>> => ({
    status: 'ready',
    ...(await target.archive.readiness()),
  });
  const [first, ...others] = targets;
  if (first) app.get('/readyz', async () => ready(first));
  const byId = new Map(others.map((t) => [t.id, t]));
  app.get<{ Params: { tenant: string } }>('/readyz/tenants/:tenant', async (request) => {
    const target = byId.get(request.params.tenant);
    if (!target) throw Errors.notFound(`no tenant "${request.params.tenant}"`);
    return ready(target);
  });
}
