import type { FastifyInstance } from 'fastify';
import type { PacsBackend } from '../services/backend.js';
import { Errors, toGatewayError, withDetails } from '../errors.js';
import { statusHex } from '../dimse-bridge/command.js';

export interface HealthTarget {
  id: string;
  backend: PacsBackend;
  /** How long a C-ECHO may take before the PACS counts as not ready. */
  timeoutMs: number;
}

async function echoWithin(target: HealthTarget): Promise<{ status: 'ready'; pacs: { echo: 'success'; roundTripMs: number } }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(Errors.notReady(`no C-ECHO answer from the PACS within ${target.timeoutMs} ms`)), target.timeoutMs); });
  try {
    const echo = await Promise.race([target.backend.echo(), timeout]);
    if (echo.status !== 0) throw withDetails(Errors.notReady(`the PACS answered C-ECHO with status ${statusHex(echo.status)}`), { dimseStatus: statusHex(echo.status) });
    return { status: 'ready', pacs: { echo: 'success', roundTripMs: Math.round(echo.roundTripMs * 100) / 100 } };
  } catch (err) {
    const e = toGatewayError(err);
    throw e.code === Errors.notReady.code ? e : withDetails(Errors.notReady(e.message), { cause: e.code });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Liveness, and readiness as a C-ECHO to a PACS: `/readyz` for the default tenant, `/readyz/tenants/{id}` for
 * each other one — so that one tenant's PACS being down does not take the others out of a load balancer.
 */
export function registerHealthRoutes(app: FastifyInstance, targets: readonly HealthTarget[]): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  const [first, ...others] = targets;
  if (first) app.get('/readyz', async () => echoWithin(first));
  const byId = new Map(others.map((t) => [t.id, t]));
  app.get<{ Params: { tenant: string } }>('/readyz/tenants/:tenant', async (request) => {
    const target = byId.get(request.params.tenant);
    if (!target) throw Errors.notFound(`no tenant "${request.params.tenant}"`);
    return echoWithin(target);
  });
}
