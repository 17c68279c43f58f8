/**
 * Admission control: per-client and per-tenant request limits (429 + Retry-After), and a storm of requests that
 * does not become a storm of associations on the PACS (dcmqrscp logs each association it receives).
 */
import { describe, it, expect, afterAll } from 'vitest';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { startIssuer, type TestIssuer } from './harness/issuer.js';
import { PATIENTS, allInstances } from '../src/samples/catalog.js';
import { freePort } from '../devkit/ports.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

describe('admission control', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const pacsFor = async (verbose = false): Promise<TestPacs> => {
    const pacs = await startDcmqrscp({ verbose });
    cleanups.push(() => pacs.stop());
    return pacs;
  };
  const gatewayFor = async (pacs: TestPacs, overrides: Parameters<typeof startTestGateway>[1]): Promise<Gateway> => {
    const gw = await startTestGateway(pacs, overrides);
    cleanups.push(() => gw.close());
    return gw;
  };

  it("answers 429 with Retry-After beyond a client's limit, counting each token subject on its own", async () => {
    const idp: TestIssuer = await startIssuer();
    cleanups.push(() => idp.close());
    const gw = await gatewayFor(await pacsFor(), {
      limits: { clientRequests: 3, tenantRequests: 100, windowSeconds: 60 },
      auth: { mode: 'required', oauth: { issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl } },
    });
    const as = async (sub: string): Promise<Response> =>
      fetch(`${gw.base}/studies?PatientID=PAT-ASCII-1`, {
        headers: { authorization: `Bearer ${await idp.token({ sub })}` },
      });
    const alice = [await as('alice'), await as('alice'), await as('alice'), await as('alice')];
    expect(alice.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    const refused = alice[3] as Response;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: 'DWG_RATE_LIMITED' });
    expect((await as('bob')).status).toBe(200);
    expect((await fetch(`${gw.base.replace('/dicomweb', '')}/healthz`)).status).toBe(200); // health is not limited
  });

  it('limits a tenant as a whole', async () => {
    const gw = await gatewayFor(await pacsFor(), {
      limits: { clientRequests: 0, tenantRequests: 4, windowSeconds: 60 },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(`${gw.base}/studies?PatientID=PAT-ASCII-1`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('never throttles a viewer on what the cache serves: 300 frame and rendered requests of a cached series with a limit of 5', async () => {
    const dimsePort = await freePort();
    const pacs = await startDcmqrscp({ moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort } });
    cleanups.push(() => pacs.stop());
    const gw = await gatewayFor(pacs, {
      dimse: { port: dimsePort },
      limits: { clientRequests: 5, tenantRequests: 5, windowSeconds: 60 },
    });
    const first = [...allInstances()].find((i) => i.series.modality === 'CT' && !i.series.frames);
    const ct = [...allInstances()].filter((i) => i.series.uid === first?.series.uid);
    const series = `${gw.base}/studies/${ct[0]?.study.uid}/series/${ct[0]?.series.uid}`;
    const metadata = await fetch(`${series}/metadata`); // one retrieval: counted
    expect(metadata.status).toBe(200);
    expect(((await metadata.json()) as unknown[]).length).toBe(ct.length); // the whole series is cached now
    const statuses = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const inst = ct[i % ct.length];
      const url =
        i % 3 === 2 ? `${series}/instances/${inst?.uid}/rendered` : `${series}/instances/${inst?.uid}/frames/1`;
      const res = await fetch(url);
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 300 });
    // What needs the PACS is still counted: 4 more searches use the window up, the next is refused.
    const searches: number[] = [];
    for (let i = 0; i < 5; i++) searches.push((await fetch(`${gw.base}/studies?PatientID=PAT-ASCII-1`)).status);
    expect(searches).toEqual([200, 200, 200, 200, 429]);
  });

  it('keeps a storm of 60 concurrent searches to pacs.maxAssociations associations on the PACS', async () => {
    const pacs = await pacsFor(true);
    const gw = await gatewayFor(pacs, { pacs: { maxAssociations: 2, queueLimit: 100, queueTimeoutMs: 30_000 } });
    const associations = (): number => (pacs.output().match(/Association Received/g) ?? []).length;
    const before = associations();
    const ids = PATIENTS.map((p) => p.id);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => fetch(`${gw.base}/studies?PatientID=${ids[i % ids.length]}`)),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(associations() - before).toBeLessThanOrEqual(2);
  });
});
