/**
 * Logs (issue 14): pino JSON lines; each HTTP request has an id (a UUID, named in the response's X-Request-Id),
 * and the log lines of the DIMSE work it causes carry it — the association it opens, the retrieval it starts —
 * while lines of no request (start-up, the Storage SCP's own listening) carry none. The gateway runs as the
 * command does (a process, its stdout read), in front of dcmqrscp.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allStudies } from '../src/samples/catalog.js';
import { gatewayProcessInFrontOfDcmqrscp, type GatewayProcess } from './harness/gateway-process.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request ids in the log', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await gatewayProcessInFrontOfDcmqrscp({ DICOMWEB_LOG_LEVEL: 'debug' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const linesFor = (id: string): string[] => gw.lines.filter((l) => l.reqId === id).map((l) => l.msg ?? '');
  /** Waits until the gateway has logged the end of request `id` (Fastify's "request completed"). */
  const completed = (id: string): Promise<unknown> => gw.logged((l) => l.reqId === id && l.msg === 'request completed');

  it('names each request in X-Request-Id, and the association a search opens is logged with it', async () => {
    const search = await fetch(`${gw.base}/studies`);
    expect(search.status).toBe(200);
    await search.arrayBuffer();
    const id = search.headers.get('x-request-id') ?? '';
    expect(id).toMatch(UUID);
    await completed(id);
    expect(linesFor(id)).toContain('association established');
    // One reqId per line, never two (Fastify's request logger binds it; the mixin does not add it again).
    for (const l of gw.lines) expect(l.raw.split('"reqId"').length).toBeLessThanOrEqual(2);
    // A second search reuses the association: it opens none, and is another request.
    const again = await fetch(`${gw.base}/studies`);
    await again.arrayBuffer();
    const second = again.headers.get('x-request-id') ?? '';
    expect(second).not.toBe(id);
    await completed(second);
    expect(linesFor(second)).not.toContain('association established');
  });

  it('logs the retrieval a request starts with its id', async () => {
    const { study } = allStudies()[0] ?? {};
    const series = study?.series[0];
    const response = await fetch(`${gw.base}/studies/${study?.uid ?? ''}/series/${series?.uid ?? ''}`, {
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const id = response.headers.get('x-request-id') ?? '';
    await gw.logged((l) => l.reqId === id && l.msg === 'retrieval finished');
    expect(linesFor(id).filter((m) => m === 'retrieval finished')).toHaveLength(1);
  });

  it('leaves lines of no request without an id', async () => {
    // The PACS probed once at start (pacs.probeAtStart), in the background: one line, no request's.
    await gw.logged((l) => l.msg === 'PACS capabilities');
    const startUp = gw.lines.filter(
      (l) => l.msg === 'dicomweb-gateway ready' || l.msg === 'Storage SCP listening' || l.msg === 'PACS capabilities',
    );
    expect(startUp).toHaveLength(3);
    for (const l of startUp) expect(l.reqId).toBeUndefined();
    // Tracing is off by default (tracing.exporter: none): no span was written.
    expect(gw.lines.filter((l) => l.msg === 'span')).toEqual([]);
  });
});
