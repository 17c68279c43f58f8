import type { FastifyInstance } from 'fastify';
import type { PacsBackend } from '../services/backend.js';
import { Errors, toGatewayError, withDetails } from '../errors.js';
import { statusHex } from '../dimse-bridge/command.js';

/** Liveness and readiness. Readiness is a C-ECHO to the PACS within `timeoutMs`. */
export function registerHealthRoutes(app: FastifyInstance, backend: PacsBackend, timeoutMs: number): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(Errors.notReady(`no C-ECHO answer from the PACS within ${timeoutMs} ms`)), timeoutMs); });
    try {
      const echo = await Promise.race([backend.echo(), timeout]);
      if (echo.status !== 0) throw withDetails(Errors.notReady(`the PACS answered C-ECHO with status ${statusHex(echo.status)}`), { dimseStatus: statusHex(echo.status) });
      return { status: 'ready', pacs: { echo: 'success', roundTripMs: Math.round(echo.roundTripMs * 100) / 100 } };
    } catch (err) {
      const e = toGatewayError(err);
      throw e.code === Errors.notReady.code ? e : withDetails(Errors.notReady(e.message), { cause: e.code });
    } finally {
      clearTimeout(timer);
    }
  });
}
