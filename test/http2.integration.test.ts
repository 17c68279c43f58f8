/**
 * HTTP/2 (RFC 9113): over TLS, offered by ALPN beside HTTP/1.1 on the same port; as h2c (cleartext, prior
 * knowledge) for a TLS-terminating proxy. QIDO, a frame with Content-Length, a whole series streamed under a
 * small flow-control window, a client that resets its stream mid-body, and errors — all through dcmqrscp.
 */
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import http2, { type ClientHttp2Session } from 'node:http2';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { gatewayInFrontOfDcmqrscp } from './harness/gateway.js';
import { testCertificates, type TestCertificates } from '../devkit/certificates.js';
import { boundaryOf, parseMultipart } from './harness/multipart.js';
import { allInstances, PATIENTS } from '../src/samples/catalog.js';
import { configSchema } from '../src/config/schema.js';
import type { TestPacs } from '../devkit/pacs.js';

type Started = Awaited<ReturnType<typeof gatewayInFrontOfDcmqrscp>>;

interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;
  body: Buffer;
}

/** One GET on an HTTP/2 session; `readSlowly` pauses after every chunk so that flow control holds the server back. */
function h2get(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
  readSlowly = false,
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    let responseHeaders: H2Answer['headers'] = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      responseHeaders = h;
    });
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      if (readSlowly) {
        stream.pause();
        setTimeout(() => stream.resume(), 1);
      }
    });
    stream.on('end', () =>
      resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks) }),
    );
    stream.on('error', reject);
  });
}

const pathOf = (url: string): string => new URL(url).pathname;
const [patient] = PATIENTS;
const cine = [...allInstances()].find((i) => i.series.frames);
const largestSeries = [...allInstances()].reduce((best, i) => (i.series.instances > best.series.instances ? i : best));

describe('HTTP/2', () => {
  let certs: TestCertificates;
  const started: Started[] = [];
  const sessions: ClientHttp2Session[] = [];
  beforeAll(async () => {
    certs = await testCertificates();
  }, 60_000);
  afterAll(async () => {
    for (const s of sessions) s.close();
    for (const { gw, pacs } of started) {
      await gw.close();
      await (pacs as TestPacs).stop();
    }
  });
  const start = async (http: Record<string, unknown>): Promise<Started['gw']> => {
    const s = await gatewayInFrontOfDcmqrscp({ http });
    started.push(s);
    return s.gw;
  };
  const connect = (origin: string, options: http2.SecureClientSessionOptions = {}): Promise<ClientHttp2Session> =>
    new Promise((resolve, reject) => {
      const session = http2.connect(origin, options);
      sessions.push(session);
      session.once('connect', () => resolve(session));
      session.once('error', reject);
    });

  it('over TLS: negotiates h2 by ALPN, answers QIDO and a frame with Content-Length, and still serves HTTP/1.1 on the same port', async () => {
    const gw = await start({ tls: { cert: certs.cert, key: certs.key } });
    const ca = readFileSync(certs.ca);
    const origin = new URL(gw.base).origin;
    const session = await connect(origin, { ca });
    expect(session.alpnProtocol).toBe('h2');

    const qido = await h2get(session, `${pathOf(gw.base)}/studies?PatientID=${patient?.id}`);
    expect(qido.status).toBe(200);
    expect(JSON.parse(qido.body.toString('utf8'))).toHaveLength(patient?.studies.length ?? -1);

    if (!cine) throw new Error('the fixtures have a multi-frame instance');
    const frame = await h2get(
      session,
      `${pathOf(gw.base)}/studies/${cine.study.uid}/series/${cine.series.uid}/instances/${cine.uid}/frames/2`,
      { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
    );
    expect(frame.status).toBe(200);
    expect(Number(frame.headers['content-length'])).toBe(frame.body.length);
    expect(parseMultipart(frame.body, boundaryOf(String(frame.headers['content-type'])))).toHaveLength(1);

    const http1 = await new Promise<{ status: number; version: string; body: string }>((resolve, reject) => {
      https
        .get(
          `${gw.base}/studies?PatientID=${patient?.id}`,
          { ca, ALPNProtocols: ['http/1.1'] } as https.RequestOptions,
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => {
              body += c.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, version: res.httpVersion, body }));
          },
        )
        .on('error', reject);
    });
    expect(http1).toMatchObject({ status: 200, version: '1.1' });
    expect(JSON.parse(http1.body)).toHaveLength(patient?.studies.length ?? -1);
  });

  it('streams a whole series under a small flow-control window, survives a client that resets mid-body, and answers errors as JSON', async () => {
    const gw = await start({ h2c: true, maxHeaderBytes: 8192 });
    // The client grants 16 KiB at a time and reads slowly: the server must wait on the window, not buffer ahead.
    const session = await connect(new URL(gw.base).origin, { settings: { initialWindowSize: 16 * 1024 } });
    const series = `${pathOf(gw.base)}/studies/${largestSeries.study.uid}/series/${largestSeries.series.uid}`;
    const accept = { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' };

    // A client that gives up after its first chunk: its stream is reset, and the session goes on.
    await new Promise<void>((resolve, reject) => {
      const stream = session.request({ ':path': series, ...accept });
      stream.once('data', () => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.once('close', () => resolve());
      stream.once('error', reject);
    });
    // The server notices: the response's generators return and every instance it held is let go.
    await vi.waitFor(() => expect(gw.archive.cache.pinnedCount).toBe(0), { timeout: 5000 });

    const whole = await h2get(session, series, accept, true);
    expect(whole.status).toBe(200);
    const parts = parseMultipart(whole.body, boundaryOf(String(whole.headers['content-type'])));
    expect(parts).toHaveLength(largestSeries.series.instances);
    for (const p of parts) expect(p.body.subarray(128, 132).toString('latin1')).toBe('DICM');

    const bad = await h2get(session, `${pathOf(gw.base)}/studies/not-a-uid/metadata`);
    expect(bad.status).toBe(400);
    expect(String(bad.headers['content-type'])).toMatch(/^application\/json/);
    expect(JSON.parse(bad.body.toString('utf8'))).toMatchObject({ status: 400, error: expect.any(String) });

    // The same header bound as HTTP/1.1 (Node's HTTP/2 alone would take 64 KiB).
    const long = await h2get(session, `${pathOf(gw.base)}/studies?PatientName=${'A'.repeat(10_000)}`);
    expect(long.status).toBe(431);
    expect(JSON.parse(long.body.toString('utf8'))).toMatchObject({ error: 'DWG_HEADERS_TOO_LARGE', status: 431 });
  });

  it('refuses h2c together with TLS at start-up, with the reason', () => {
    const parsed = configSchema.safeParse({ http: { h2c: true, tls: { cert: 'c.pem', key: 'k.pem' } } });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(/h2c is HTTP\/2 without TLS/);
  });
});
