import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import { Errors, toGatewayError, withHeaders, type GatewayError } from '../errors.js';

/** The metrics listener: `GET /metrics` and `GET /admin/pacs` (operators'), on its own address (default 127.0.0.1:9464), apart from DICOMweb. */
export interface MetricsServer {
  /** `http://host:port` actually bound (port 0 resolves to a free port). */
  url: string;
  close(): Promise<void>;
}

const json = (
  res: http.ServerResponse,
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): void => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
};

/** An error of the gateway's one registry (errors.ts), in the body shape every listener answers with. */
const fail = (res: http.ServerResponse, err: GatewayError): void =>
  json(res, err.statusCode, err.toBody(), err.headers);

/** What the metrics listener serves (GET and HEAD each; docs/conformance.md Table 4-2). */
export const METRICS_LISTENER_PATHS: readonly string[] = ['/metrics', '/admin/pacs'];

/** What the operators' side of the listener reports besides metrics. */
export interface AdminReadings {
  /** Each PACS's capabilities as probed at start, by tenant (or why they could not be). */
  pacs(): Record<string, unknown>;
}

export async function listenMetrics(
  metrics: GatewayMetrics,
  address: { host: string; port: number },
  log: Logger,
  admin: AdminReadings,
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!METRICS_LISTENER_PATHS.includes(path))
      return fail(
        res,
        Errors.notFound(
          `no resource at ${path} on the metrics listener (it serves ${METRICS_LISTENER_PATHS.map((p) => `GET ${p}`).join(' and ')})`,
        ),
      );
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return fail(
        res,
        withHeaders(Errors.methodNotAllowed(req.method ?? '', path, 'GET, HEAD'), { allow: 'GET, HEAD' }),
      );
    if (path === '/admin/pacs') return json(res, 200, admin.pacs());
    metrics.exposition().then(
      ({ body, contentType }) => {
        res
          .writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
          .end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        log.error({ err }, 'metrics could not be collected');
        fail(res, toGatewayError(err));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
