/**
 * What several replicas share through one real Redis (started by the harness): rate limits, and each PACS's
 * association budget — and what happens when Redis goes away.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { configSchema } from '../src/config/schema.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { startRedis, type TestRedis } from '../devkit/redis.js';
import { run } from '../devkit/processes.js';
import { tempDir } from '../devkit/temp.js';
import { startDcmqrscp } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { execFileSync } from 'node:child_process';

const LIMIT = 5;

function replica(redisUrl: string | undefined): Promise<Gateway> {
  return startGateway(
    configSchema.parse({
      http: { host: '127.0.0.1', port: 0 },
      dimse: { port: 0, listen: false },
      archive: { dir: tempDir('archive') },
      cache: { dir: tempDir('cache') },
      auth: { mode: 'none' },
      limits: { clientRequests: LIMIT, tenantRequests: 0, windowSeconds: 60 },
      ...(redisUrl ? { redis: { url: redisUrl, keyPrefix: 'test-cluster:' } } : {}),
      log: { level: process.env.DWG_TEST_LOG ?? 'silent' },
    }),
  );
}

const search = async (gw: Gateway): Promise<number> =>
  (await fetch(`${gw.httpUrl}/dicomweb/studies?PatientID=NOBODY`)).status;

describe('rate limits across replicas (Redis)', () => {
  let redis: TestRedis;
  const replicas: Gateway[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const r of replicas) await r.close();
    await redis?.stop();
  });

  it('counts a client once for the cluster: its sixth search is refused by whichever replica it reaches', async () => {
    const [a, b] = [await replica(redis.url), await replica(redis.url)];
    replicas.push(a, b);
    const statuses = [await search(a), await search(b), await search(a), await search(b), await search(a)];
    expect(statuses).toEqual(Array(LIMIT).fill(200));
    expect(await search(b)).toBe(429);
    expect(await search(a)).toBe(429);
    // The counts are Redis's, under the configured prefix.
    const { stdout } = await run('redis-cli', ['-p', String(redis.port), '--scan', '--pattern', 'test-cluster:rate:*']);
    expect(stdout.trim().split('\n').filter(Boolean).length).toBeGreaterThan(0);
  });

  it('without Redis, each replica counts alone (the limit is per process)', async () => {
    const [a, b] = [await replica(undefined), await replica(undefined)];
    replicas.push(a, b);
    for (let i = 0; i < LIMIT; i++) expect(await search(a)).toBe(200);
    expect(await search(a)).toBe(429);
    expect(await search(b)).toBe(200);
  });

  it('keeps answering when Redis goes away, counting in each replica meanwhile', async () => {
    const gone = await startRedis();
    const a = await replica(gone.url);
    replicas.push(a);
    expect(await search(a)).toBe(200);
    await gone.stop();
    const started = performance.now();
    // Searches go on, each limited by this replica alone: LIMIT allowed (a fresh local window), then 429.
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT; i++) statuses.push(await search(a));
    expect(statuses.slice(0, LIMIT)).toEqual(Array(LIMIT).fill(200));
    expect(statuses[LIMIT]).toBe(429);
    // Never held up for long by the Redis that is gone (its command timeout, 500 ms, at most once each).
    expect(performance.now() - started).toBeLessThan((LIMIT + 1) * 600);
  });
});

/** Established TCP connections to `port` on this machine, as the kernel counts them (ss). */
function connectionsTo(port: number): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim()).length;
}

describe("a PACS's association budget across replicas (Redis)", () => {
  it('never lets the PACS see more than pacs.maxAssociations, whichever replicas ask', async () => {
    const redis = await startRedis();
    const pacs = await startDcmqrscp();
    const settings = { maxAssociations: 2, queueLimit: 200, queueTimeoutMs: 30_000 };
    const replicas = [
      await startTestGateway(pacs, { pacs: settings, redis: { url: redis.url } }),
      await startTestGateway(pacs, { pacs: settings, redis: { url: redis.url } }),
    ];
    try {
      let most = 0;
      let running = true;
      const watching = (async () => {
        while (running) {
          most = Math.max(most, connectionsTo(pacs.port));
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const ids = ['PAT-ASCII-1', 'PAT-LATIN1', 'PAT-JAPANESE', 'NOBODY'];
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          fetch(`${replicas[i % 2]?.base}/studies?PatientID=${ids[i % ids.length]}`).then((r) => r.status),
        ),
      );
      running = false;
      await watching;
      expect(answers).toEqual(Array(40).fill(200));
      // Both replicas searched through at most two associations at once between them (without the shared
      // budget: four, two each).
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(settings.maxAssociations);
      for (const r of replicas) expect(r.archive.peer.poolStats().refused).toBe(0);
      // Redis gone: each replica keeps to its own pool's limit, and searches go on.
      await redis.stop();
      const after = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          fetch(`${replicas[i % 2]?.base}/studies?PatientID=${ids[i % ids.length]}`).then((r) => r.status),
        ),
      );
      expect(after).toEqual(Array(8).fill(200));
    } finally {
      for (const r of replicas) await r.close();
      await pacs.stop();
      await redis.stop();
    }
  });
});
