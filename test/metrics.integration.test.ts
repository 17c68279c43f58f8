/**
 * Prometheus metrics (issue 14): on a listener of their own, never the DICOMweb one; requests counted by route
 * pattern and status; each PACS's association pool, the cache and the embedded archive read at scrape time; and
 * Prometheus's own `promtool check metrics` accepts the exposition.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestPacs } from '../devkit/pacs.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { run, SHIPPED_ENV } from '../devkit/processes.js';
import { allInstances, allStudies } from '../src/samples/catalog.js';
import { gatewayInFrontOfDcmqrscp, gatewayOnEmbeddedArchive } from './harness/gateway.js';

/** The value of one sample of the exposition: `name{labels}` exactly as written, labels in their order. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** promtool's verdict on an exposition: its exit code and what it printed (problems, lint). */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe('metrics in front of a PACS (dcmqrscp)', () => {
  let pacs: TestPacs;
  let gw: Awaited<ReturnType<typeof gatewayInFrontOfDcmqrscp>>['gw'];
  let metricsUrl: string;
  beforeAll(async () => {
    ({ pacs, gw } = await gatewayInFrontOfDcmqrscp({
      metrics: { enabled: true, port: 0 },
      pacs: { maxAssociations: 3 },
      cache: { maxBytes: '1GiB' },
    }));
    metricsUrl = `${gw.metricsUrl ?? ''}/metrics`;
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  it('counts requests by route pattern and status, with their latency, and reads the pool and the cache', async () => {
    const study = allStudies()[0]?.study.uid ?? '';
    for (let i = 0; i < 3; i++) expect((await fetch(`${gw.base}/studies`)).status).toBe(200);
    expect((await fetch(`${gw.base}/studies/${study}/series`)).status).toBe(200);
    expect((await fetch(`${gw.base}/studies?NoSuchKey=1`)).status).toBe(400);
    expect((await fetch(`${gw.httpUrl}/nothing-here`)).status).toBe(404);
    const text = await (await fetch(metricsUrl)).text();
    const base = gw.config.http.basePath;
    const requests = (route: string, status: number): number | undefined =>
      sample(
        text,
        `dicomweb_gateway_http_request_duration_seconds_count{route="${base}${route}",method="GET",status="${status}"}`,
      );
    expect(requests('/studies', 200)).toBe(3);
    expect(requests('/studies', 400)).toBe(1);
    expect(requests('/studies/:study/series', 200)).toBe(1);
    expect(
      sample(text, 'dicomweb_gateway_http_request_duration_seconds_count{route="unmatched",method="GET",status="404"}'),
    ).toBe(1);
    // Every answered request is in a bucket no larger than +Inf; no UID becomes a label.
    expect(
      sample(
        text,
        `dicomweb_gateway_http_request_duration_seconds_bucket{le="+Inf",route="${base}/studies",method="GET",status="200"}`,
      ),
    ).toBe(3);
    expect(text).not.toContain(study);
    const pool = (state: string): number | undefined =>
      sample(text, `dicomweb_gateway_pacs_associations{tenant="default",pacs="${pacs.aeTitle}",state="${state}"}`);
    expect(pool('max')).toBe(3);
    expect(pool('open')).toBeGreaterThanOrEqual(1); // the searches' association, kept for reuse
    expect(pool('open')).toBeLessThanOrEqual(3);
    expect(pool('busy')).toBe(0);
    expect(pool('waiting')).toBe(0);
    expect(
      sample(text, `dicomweb_gateway_pacs_association_requests_refused_total{tenant="default",pacs="${pacs.aeTitle}"}`),
    ).toBe(0);
    expect(sample(text, 'dicomweb_gateway_cache_bytes{tenant="default",kind="budget"}')).toBe(2 ** 30);
    expect(sample(text, 'dicomweb_gateway_cache_bytes{tenant="default",kind="used"}')).toBe(
      gw.archive.cache.totalBytes,
    );
    expect(sample(text, 'dicomweb_gateway_codec_queue_depth')).toBe(0);
    // The three searches' C-FINDs, each to the end; one study level each (the series search: one more).
    const finds = sample(
      text,
      `dicomweb_gateway_pacs_find_duration_seconds_count{tenant="default",pacs="${pacs.aeTitle}",outcome="success"}`,
    );
    expect(finds).toBeGreaterThanOrEqual(4);
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  });

  it('time a retrieval and count what it brought', async () => {
    const { study } = allStudies().find((s) => s.study.series.length > 0) ?? {};
    const series = study?.series[0];
    if (!study || !series) throw new Error('no fixture series');
    const url = `${gw.base}/studies/${study.uid}/series/${series.uid}`;
    const response = await fetch(url, {
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    const text = await (await fetch(metricsUrl)).text();
    const labels = `tenant="default",pacs="${pacs.aeTitle}",method="move"`;
    expect(sample(text, `dicomweb_gateway_pacs_retrieval_duration_seconds_count{${labels},outcome="success"}`)).toBe(1);
    expect(sample(text, `dicomweb_gateway_pacs_retrieval_first_instance_seconds_count{${labels}}`)).toBe(1);
    expect(sample(text, `dicomweb_gateway_pacs_retrieved_instances_total{${labels}}`)).toBe(series.instances);
    expect(sample(text, `dicomweb_gateway_pacs_failed_sub_operations_total{${labels}}`)).toBe(0);
    // The first instance came no later than the end.
    const first = sample(text, `dicomweb_gateway_pacs_retrieval_first_instance_seconds_sum{${labels}}`) ?? NaN;
    expect(first).toBeLessThanOrEqual(
      sample(text, `dicomweb_gateway_pacs_retrieval_duration_seconds_sum{${labels},outcome="success"}`) ?? NaN,
    );
    expect(sample(text, 'dicomweb_gateway_cache_instances{tenant="default"}')).toBe(series.instances);
    // Its sub-operations came to our Storage SCP, on one association.
    expect(sample(text, 'dicomweb_gateway_scp_instances_total{tenant="default",outcome="stored"}')).toBe(
      series.instances,
    );
    expect(sample(text, 'dicomweb_gateway_scp_instances_total{tenant="default",outcome="refused"}')).toBe(0);
    expect(sample(text, 'dicomweb_gateway_scp_associations_total{tenant="default",outcome="accepted"}')).toBe(1);
    expect(sample(text, 'dicomweb_gateway_scp_stored_bytes_total{tenant="default"}')).toBe(gw.archive.cache.totalBytes);
    expect(sample(text, 'dicomweb_gateway_cache_lookups_total{tenant="default",outcome="miss"}')).toBe(1);
    expect(sample(text, 'dicomweb_gateway_cache_lookups_total{tenant="default",outcome="hit"}')).toBe(0);
    expect(sample(text, 'dicomweb_gateway_cache_lookups_total{tenant="default",outcome="joined"}')).toBe(0);

    // Again: from the cache (or joining the first retrieval while it records the series complete: the PACS is not
    // asked again either way); then one frame rendered, and the same frame again from the rendered cache.
    await (
      await fetch(url, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } })
    ).arrayBuffer();
    const instance = [...allInstances()].find((i) => i.series.uid === series.uid);
    const rendered = `${url}/instances/${instance?.uid ?? ''}/frames/1/rendered`;
    for (let i = 0; i < 2; i++) expect((await fetch(rendered, { headers: { accept: 'image/png' } })).status).toBe(200);
    const after = await (await fetch(metricsUrl)).text();
    const hits = sample(after, 'dicomweb_gateway_cache_lookups_total{tenant="default",outcome="hit"}') ?? 0;
    expect(
      hits + (sample(after, 'dicomweb_gateway_cache_lookups_total{tenant="default",outcome="joined"}') ?? 0),
    ).toBeGreaterThanOrEqual(2);
    expect(
      sample(
        after,
        'dicomweb_gateway_pacs_retrieval_duration_seconds_count{tenant="default",pacs="' +
          pacs.aeTitle +
          '",method="move",outcome="success"}',
      ),
    ).toBe(1);
    expect(sample(after, 'dicomweb_gateway_cache_lookups_total{tenant="default",outcome="miss"}')).toBe(1);
    const renders = after
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('dicomweb_gateway_render_duration_seconds_count{tenant="default",') &&
          l.includes('output="image/png"'),
      );
    expect(renders).toHaveLength(1);
    expect(renders[0]).toMatch(/transfer_syntax="1\.2\.840\.10008\.1\.2[.\d]*",output="image\/png"} 1$/);
    expect(sample(after, 'dicomweb_gateway_render_cache_bytes{tenant="default",cache="rendered"}')).toBeGreaterThan(0);
    expect(sample(after, 'dicomweb_gateway_cache_evictions_total{tenant="default"}')).toBe(0);
  });

  it("serve the PACS's capabilities, as last probed, to operators on the metrics listener only", async () => {
    // Probed here, not at start: its C-MOVE would change what the tests above count (the start-up probe: request-logs).
    type Report = Record<
      string,
      {
        retrieval: { method: string; chosenBy: string };
        probe: {
          target?: string;
          models?: Record<string, { find: boolean }>;
          echo?: { status: string };
          move?: { outcome: string };
        } | null;
      }
    >;
    const admin = async (): Promise<Report> =>
      (await (await fetch(`${gw.metricsUrl ?? ''}/admin/pacs`)).json()) as Report;
    expect(await admin()).toEqual({
      default: { retrieval: { method: 'move', chosenBy: 'configuration' }, probe: null },
    });
    await gw.archive.probe();
    const found = (await admin()).default?.probe;
    expect(found?.target).toBe(`${pacs.aeTitle}@${pacs.host}:${pacs.port}`);
    expect(found?.echo?.status).toBe('0x0000');
    expect(found?.models?.['Study Root']?.find).toBe(true);
    expect(found?.move?.outcome).toBe('delivered');
    expect((await fetch(`${gw.httpUrl}/admin/pacs`)).status).toBe(404);
  });

  it('are served on their own listener only', async () => {
    expect((await fetch(`${gw.httpUrl}/metrics`)).status).toBe(404);
    const elsewhere = await fetch(`${gw.metricsUrl ?? ''}/studies`);
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.json()).toMatchObject({ error: 'DWG_NOT_FOUND', status: 404 });
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    const posted = await fetch(metricsUrl, { method: 'POST' });
    expect(posted.status).toBe(405);
    expect(posted.headers.get('allow')).toBe('GET, HEAD');
    expect(await posted.json()).toMatchObject({ error: 'DWG_METHOD_NOT_ALLOWED', status: 405 });
  });

  it('are the families docs/operations.md lists, no more and no fewer', async () => {
    const text = await (await fetch(metricsUrl)).text();
    const exposed = new Set([...text.matchAll(/^# TYPE (dicomweb_gateway_\w+) /gm)].map((m) => m[1]));
    const documented = new Set(
      [...readFileSync('docs/operations.md', 'utf8').matchAll(/^\| `(dicomweb_gateway_\w+)` \|/gm)].map((m) => m[1]),
    );
    expect(exposed.size).toBeGreaterThanOrEqual(7);
    expect([...exposed].sort()).toEqual([...documented].sort());
  });

  it('are accepted by promtool check metrics', async () => {
    const response = await fetch(metricsUrl);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const verdict = await promtoolCheck(await response.text());
    expect(verdict.output).toBe('');
    expect(verdict.code).toBe(0);
  });
});

describe('metrics on the embedded archive', () => {
  let gw: Awaited<ReturnType<typeof gatewayOnEmbeddedArchive>>;
  beforeAll(async () => {
    gw = await gatewayOnEmbeddedArchive(undefined, { metrics: { enabled: true, port: 0 } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("reads the archive's instance count, and promtool accepts them", async () => {
    const text = await (await fetch(`${gw.metricsUrl ?? ''}/metrics`)).text();
    const held = (await (await fetch(`${gw.httpUrl}/readyz`)).json()) as { archive?: { instances?: number } };
    const instances = sample(text, 'dicomweb_gateway_archive_instances{tenant="default"}');
    expect(instances).toBeGreaterThan(0);
    expect(instances).toBe(held.archive?.instances);
    // What storescu sent into the archive's Storage SCP, each on an association of its own kind.
    expect(sample(text, 'dicomweb_gateway_scp_instances_total{tenant="default",outcome="stored"}')).toBe(instances);
    expect(
      sample(text, 'dicomweb_gateway_scp_associations_total{tenant="default",outcome="accepted"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'dicomweb_gateway_scp_associations_total{tenant="default",outcome="rejected"}')).toBe(0);
    // A modality calling the wrong AE title is rejected (PS3.8 §7.1.1.6), and counted so.
    const file = fixtureFiles().files[0] ?? '';
    await expect(
      run('storescu', ['-aec', 'NOT-US', '127.0.0.1', String(gw.scpPort), file], { env: SHIPPED_ENV }),
    ).rejects.toThrow();
    const after = await (await fetch(`${gw.metricsUrl ?? ''}/metrics`)).text();
    expect(sample(after, 'dicomweb_gateway_scp_associations_total{tenant="default",outcome="rejected"}')).toBe(1);
    expect(sample(after, 'dicomweb_gateway_scp_instances_total{tenant="default",outcome="stored"}')).toBe(instances);
    // One instance again by STOW-RS: kept as archived (a duplicate is Success), counted stored; a part that is
    // not DICOM, failed.
    const boundary = 'metrics-test-boundary';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
      readFileSync(file),
      Buffer.from(
        `\r\n--${boundary}\r\nContent-Type: application/dicom\r\n\r\nnot a DICOM file\r\n--${boundary}--\r\n`,
      ),
    ]);
    const stow = await fetch(`${gw.base}/studies`, {
      method: 'POST',
      body,
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        accept: 'application/dicom+json',
      },
    });
    expect(stow.status).toBe(202);
    const later = await (await fetch(`${gw.metricsUrl ?? ''}/metrics`)).text();
    expect(sample(later, 'dicomweb_gateway_stow_instances_total{tenant="default",outcome="stored"}')).toBe(1);
    expect(sample(later, 'dicomweb_gateway_stow_instances_total{tenant="default",outcome="failed"}')).toBe(1);
    expect(sample(later, 'dicomweb_gateway_stow_instances_total{tenant="default",outcome="warning"}')).toBe(0);
    expect((await promtoolCheck(text)).code).toBe(0);
  });
});
