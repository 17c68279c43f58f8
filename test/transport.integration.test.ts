/**
 * The HTTP listener: HTTPS with optional client certificates, X-Forwarded-* believed only from trusted proxies,
 * CORS for configured origins only, header size limits, and paths that try to climb out of the cache.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { testCertificates } from '../devkit/certificates.js';
import { PATIENTS } from '../src/samples/catalog.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

function httpsGet(url: string, options: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, options, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('HTTP transport', () => {
  let pacs: TestPacs;
  const gateways: Gateway[] = [];
  beforeAll(async () => {
    pacs = await startDcmqrscp();
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await pacs?.stop();
  });
  const start = async (overrides: Parameters<typeof startTestGateway>[1]): Promise<Gateway> => {
    const gw = await startTestGateway(pacs, overrides);
    gateways.push(gw);
    return gw;
  };

  it('serves HTTPS, and with requireClientCert only to clients with a certificate from the CA', async () => {
    const c = await testCertificates();
    const gw = await start({ http: { tls: { cert: c.cert, key: c.key, ca: c.ca, requireClientCert: true } } });
    expect(gw.base.startsWith('https://127.0.0.1:')).toBe(true);
    const ca = readFileSync(c.ca);
    await expect(httpsGet(`${gw.base}/studies?PatientID=PAT-ASCII-1`, { ca })).rejects.toThrow();
    const ok = await httpsGet(`${gw.base}/studies?PatientID=PAT-ASCII-1`, {
      ca,
      cert: readFileSync(c.clientCert),
      key: readFileSync(c.clientKey),
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toHaveLength(PATIENTS[0]?.studies.length ?? 0);
  });

  it('writes URLs with the X-Forwarded origin from a trusted proxy only', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'pacs.example.org' };
    const retrieveUrl = async (gw: Gateway): Promise<string> => {
      const r = await fetch(`${gw.base}/studies?PatientID=PAT-ASCII-1`, { headers: forwarded });
      return ((await r.json()) as Record<string, { Value?: string[] }>[])[0]?.['00081190']?.Value?.[0] ?? '';
    };
    const trusted = await start({ http: { trustedProxies: ['127.0.0.1'] } });
    expect(await retrieveUrl(trusted)).toMatch(/^https:\/\/pacs\.example\.org\/dicomweb\/studies\//);
    const untrusted = await start({ http: { trustedProxies: ['10.1.2.3'] } });
    expect(await retrieveUrl(untrusted)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dicomweb\/studies\//);
  });

  it('answers CORS preflights for configured origins only', async () => {
    const gw = await start({ http: { corsOrigins: ['https://viewer.example.org'] } });
    const preflight = (origin: string): Promise<Response> =>
      fetch(`${gw.base}/studies`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
    const allowed = await preflight('https://viewer.example.org');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://viewer.example.org');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/Authorization/i);
    const other = await preflight('https://evil.example.com');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const get = await fetch(`${gw.base}/studies?PatientID=PAT-ASCII-1`, {
      headers: { origin: 'https://viewer.example.org' },
    });
    expect(get.headers.get('access-control-allow-origin')).toBe('https://viewer.example.org');
    const closed = await start({});
    const none = await fetch(`${closed.base}/studies?PatientID=PAT-ASCII-1`, {
      headers: { origin: 'https://viewer.example.org' },
    });
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers 431 for oversized headers and keeps paths inside the DICOMweb resources', async () => {
    const gw = await start({ http: { maxHeaderBytes: 8192 } });
    const long = await fetch(`${gw.base}/studies?PatientName=${'A'.repeat(10_000)}`);
    expect(long.status).toBe(431);
    // The gateway's error shape, like every other error (Node's own answer had none).
    expect(long.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await long.json()).toMatchObject({
      error: 'DWG_HEADERS_TOO_LARGE',
      status: 431,
      message: expect.stringMatching(/8192 bytes \(http\.maxHeaderBytes\)/),
    });
    for (const p of [
      '/studies/..%2F..%2F..%2Fetc%2Fpasswd/metadata',
      '/studies/1.2.3/series/%2e%2e/instances/1',
      `/studies/${'9'.repeat(65)}`,
      '/studies/1.2.3/series/1.2/instances/1.2%00/frames/1',
      '/studies/1.2.3/series/1.2/instances/1.2/bulkdata/..%2F..%2Fcompleteness.json',
    ]) {
      const r = await fetch(`${gw.base}${p}`);
      expect([400, 404], p).toContain(r.status);
      expect((await r.json()) as object, p).toHaveProperty('error');
    }
  });
});
