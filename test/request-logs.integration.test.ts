/**
 * Logs (issue 14): pino JSON lines; each HTTP request has an id (a UUID, named in the response's X-Request-Id),
 * and the log lines of the DIMSE work it causes carry it — the association it opens, the retrieval it starts —
 * while lines of no request (start-up, the Storage SCP's own listening) carry none. The gateway runs as the
 * command does (a process, its stdout read), in front of dcmqrscp.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { allStudies } from '../src/samples/catalog.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Line { msg?: string; reqId?: string; raw: string }

describe('request ids in the log', () => {
  let pacs: TestPacs;
  let child: ChildProcess;
  let base: string;
  const lines: Line[] = [];
  const linesFor = (id: string): Line[] => lines.filter((l) => l.reqId === id);

  beforeAll(async () => {
    const dimsePort = await freePort();
    const httpPort = await freePort();
    pacs = await startDcmqrscp({ moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort } });
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
      env: {
        ...process.env, DICOMWEB_HTTP_HOST: '127.0.0.1', DICOMWEB_HTTP_PORT: String(httpPort), DICOMWEB_DIMSE_PORT: String(dimsePort),
        DICOMWEB_PACS_AE_TITLE: pacs.aeTitle, DICOMWEB_PACS_HOST: pacs.host, DICOMWEB_PACS_PORT: String(pacs.port),
        DICOMWEB_AUTH_MODE: 'none', DICOMWEB_CACHE_DIR: tempDir('logs-cache'), DICOMWEB_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let rest = '';
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the gateway exited (${code})`)));
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const raw of parts) {
          const line = { ...(JSON.parse(raw) as { msg?: string; reqId?: string }), raw };
          lines.push(line);
          if (line.msg === 'dicomweb-gateway ready') resolve();
        }
      });
    });
    await ready;
    base = `http://127.0.0.1:${httpPort}/dicomweb`;
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await pacs?.stop();
  });

  /** Waits until the gateway has logged the end of request `id` (Fastify's "request completed"). */
  const completed = async (id: string): Promise<void> => {
    while (!linesFor(id).some((l) => l.msg === 'request completed')) await new Promise((r) => setTimeout(r, 20));
  };

  it('names each request in X-Request-Id, and the association a search opens is logged with it', async () => {
    const search = await fetch(`${base}/studies`);
    expect(search.status).toBe(200);
    await search.arrayBuffer();
    const id = search.headers.get('x-request-id') ?? '';
    expect(id).toMatch(UUID);
    await completed(id);
    const mine = linesFor(id).map((l) => l.msg);
    expect(mine).toContain('association established');
    expect(mine).toContain('request completed');
    // One reqId per line, never two (Fastify's request logger binds it; the mixin does not add it again).
    for (const l of lines) expect(l.raw.split('"reqId"').length).toBeLessThanOrEqual(2);
    // A second search reuses the association: it opens none, and is another request.
    const again = await fetch(`${base}/studies`);
    await again.arrayBuffer();
    const second = again.headers.get('x-request-id') ?? '';
    expect(second).not.toBe(id);
    await completed(second);
    expect(linesFor(second).map((l) => l.msg)).not.toContain('association established');
  });

  it('logs the retrieval a request starts with its id', async () => {
    const { study } = allStudies()[0] ?? {};
    const series = study?.series[0];
    const response = await fetch(`${base}/studies/${study?.uid ?? ''}/series/${series?.uid ?? ''}`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const id = response.headers.get('x-request-id') ?? '';
    await completed(id);
    while (!linesFor(id).some((l) => l.msg === 'retrieval finished')) await new Promise((r) => setTimeout(r, 20));
    expect(linesFor(id).filter((l) => l.msg === 'retrieval finished')).toHaveLength(1);
  });

  it('leaves lines of no request without an id', () => {
    const startUp = lines.filter((l) => l.msg === 'dicomweb-gateway ready' || l.msg === 'Storage SCP listening');
    expect(startUp).toHaveLength(2);
    for (const l of startUp) expect(l.reqId).toBeUndefined();
  });
});
