import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/** The metrics listener: `GET /metrics` and `GET /admin/pacs` (operators'), on its own address (default 127.0.0.1:9464), apart from DICOMweb. */
export interface MetricsServer {
  /** `http://host:port` actually bound (port 0 resolves to a free port). */
  url: string;
  close(): Promise<void>;
}

const json = (res: http.ServerResponse, status: number, body: Record<string, unknown>): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

/** What the operators' side of the listener reports besides metrics. */
export interface AdminReadings {
  /** Each PACS's capabilities as probed at start, by tenant (or why they could not be). */
  pacs(): Record<string, unknown>;
}

export async function listenMetrics(metrics: GatewayMetrics, address: { host: string; port: number }, log: Logger, admin: AdminReadings): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/admin/pacs') return json(res, 404, { error: 'not found', detail: 'this listener serves GET /metrics and GET /admin/pacs' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed', detail: `GET ${path}` });
    if (path === '/admin/pacs') return json(res, 200, admin.pacs());
    metrics.exposition().then(
      ({ body, contentType }) => { res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body); },
      (err: unknown) => { log.error({ err }, 'metrics could not be collected'); json(res, 500, { error: 'metrics could not be collected', detail: String(err) }); },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => { server.off('error', reject); resolve(); });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
