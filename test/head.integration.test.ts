/**
 * HEAD on every WADO-RS, rendered and QIDO resource (issue 10 item 4): the status and headers GET sends, no body,
 * and nothing left open — it used to never answer and leak a cache file descriptor per request.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import type { TestPacs } from '../devkit/pacs.js';
import { gatewayInFrontOfDcmqrscp, type startTestGateway } from './harness/gateway.js';
import { allInstances } from '../src/samples/catalog.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

/** One request on a fresh connection: status, headers, body length. */
function send(
  method: 'GET' | 'HEAD',
  url: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: no answer within 10 s`)));
    req.end();
  });
}

const openDescriptors = (): number => readdirSync('/proc/self/fd').length;

describe('HEAD', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  const ct = [...allInstances()].find((i) => i.series.modality === 'CT');
  const s = `/studies/${ct?.study.uid}`;
  const se = `${s}/series/${ct?.series.uid}`;
  const inst = `${se}/instances/${ct?.uid}`;

  beforeAll(async () => {
    ({ pacs, gw } = await gatewayInFrontOfDcmqrscp());
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  it.each([
    s,
    se,
    inst,
    `${s}/metadata`,
    `${se}/metadata`,
    `${inst}/metadata`,
    `${inst}/frames/1`,
    `${inst}/rendered`,
    `${s}/thumbnail`,
    `${inst}/bulkdata/7FE00010`,
    '/studies?PatientID=PAT-ASCII-1',
    `/studies/1.2.3.4.5`,
  ])("%s answers with GET's status and headers and no body", async (resource) => {
    const get = await send('GET', `${gw.base}${resource}`);
    const head = await send('HEAD', `${gw.base}${resource}`);
    expect(head.status).toBe(get.status);
    expect(head.bytes).toBe(0);
    expect(head.headers['content-type']?.toString().replace(/boundary=[^;]+/, 'boundary=B')).toBe(
      get.headers['content-type']?.toString().replace(/boundary=[^;]+/, 'boundary=B'),
    );
  });

  it('releases what it opened: 30 HEADs of a cold and a cached study leave no descriptor and no retrieval behind', async () => {
    const other = [...allInstances()].find((i) => i.patient.id === 'PAT-LATIN1');
    expect((await send('HEAD', `${gw.base}/studies/${other?.study.uid}`)).status).toBe(200); // cold: starts a retrieval
    await send('GET', `${gw.base}/studies/${other?.study.uid}`); // ends when that retrieval has
    await send('GET', `${gw.base}${s}`);
    const before = openDescriptors();
    for (let i = 0; i < 30; i++) {
      const r = await send('HEAD', `${gw.base}${i % 2 ? s : `${s}/metadata`}`);
      expect(r.status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 200)); // connections closed by the client are reaped
    expect(openDescriptors() - before).toBeLessThan(5);
    expect(gw.archive.mediator.activeCount).toBe(0);
  });
});
