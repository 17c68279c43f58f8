/**
 * What a viewer waits for (issue 13): a page in headless Chromium asks what OHIF asks when a study is opened by
 * URL — the study search, the series search, the series metadata, then every frame, nearest the middle slice
 * first, at most POOL at a time — and times the first image (the middle slice) and all images. Against a
 * 500-instance CT series (512×512, 16-bit) in Orthanc as shipped, medians of 3 runs taken in turn:
 *   - Orthanc's own DICOMweb (HTTP/1.1);
 *   - the gateway warm (HTTP/1.1), and cold (a new gateway, empty cache, each run);
 *   - the gateway warm over TLS, HTTP/1.1 (Chromium with HTTP/2 off) and HTTP/2 (ALPN h2), the same process.
 * The page runs on the origin it asks (no CORS): Orthanc's, or the gateway's.
 */
import type { Browser } from 'playwright-core';
import { launchChromium } from '../devkit/browser.js';
import { testCertificates } from '../devkit/certificates.js';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { startGateway, type GatewayProcess } from './gateway-process.js';
import { barChart, ms, ratio, seconds, target, type SuiteResult } from './report.js';
import { sendToOrthanc, type GeneratedStudy } from './study-generator.js';

const INSTANCES = Number(process.env.DWG_BENCH_VIEWER_INSTANCES ?? 500);
const RUNS = 3;
/** Frames in flight at once: a viewer's bounded request pool (HTTP/1.1 still lets Chromium open only 6 connections). */
const POOL = 16;

interface ViewerRun {
  firstImageMs: number;
  allImagesMs: number;
  metadataMs: number;
  frames: number;
  bytes: number;
  protocols: string[];
}

/** The viewer's requests, run inside the page (so on its origin, by Chromium's own network stack). */
async function viewerSession(args: { base: string; study: string; series: string; pool: number }): Promise<ViewerRun> {
  const started = performance.now();
  const json = async (url: string): Promise<Record<string, { Value?: unknown[] }>[]> => {
    const res = await fetch(url, { headers: { accept: 'application/dicom+json' } });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json() as Promise<Record<string, { Value?: unknown[] }>[]>;
  };
  const studies = await json(`${args.base}/studies?StudyInstanceUID=${args.study}&includefield=00081030,00080060`);
  if (studies.length !== 1) throw new Error(`the study search found ${studies.length} studies`);
  await json(`${args.base}/studies/${args.study}/series?includefield=0008103E,00080021`);
  const metadata = await json(`${args.base}/studies/${args.study}/series/${args.series}/metadata`);
  const metadataMs = performance.now() - started;
  const instances = metadata
    .map((m) => ({ sop: String(m['00080018']?.Value?.[0]), number: Number(m['00200013']?.Value?.[0]) }))
    .sort((a, b) => a.number - b.number);
  const middle = Math.floor(instances.length / 2);
  const order = instances.map((_, i) => i).sort((a, b) => Math.abs(a - middle) - Math.abs(b - middle) || a - b);
  let firstImageMs = -1;
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < order.length) {
      const i = order[next++] as number;
      const res = await fetch(
        `${args.base}/studies/${args.study}/series/${args.series}/instances/${instances[i]?.sop}/frames/1`,
        { headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } },
      );
      if (!res.ok) throw new Error(`frame of instance ${i}: HTTP ${res.status}`);
      const body = await res.arrayBuffer(); // before adding: `bytes += await …` would read `bytes` first, and lose updates
      bytes += body.byteLength;
      if (i === middle) firstImageMs = performance.now() - started;
    }
  };
  await Promise.all(Array.from({ length: args.pool }, worker));
  const protocols = [
    ...new Set(
      performance
        .getEntriesByType('resource')
        .map((e) => (e as unknown as { nextHopProtocol: string }).nextHopProtocol),
    ),
  ];
  return {
    firstImageMs,
    allImagesMs: performance.now() - started,
    metadataMs,
    frames: instances.length,
    bytes,
    protocols,
  };
}

/** One viewer session in a new page of `browser`, on the origin of `base`. */
async function openStudy(browser: Browser, base: string, study: GeneratedStudy): Promise<ViewerRun> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  // tsx names functions with a helper (`__name`) that a function sent to the page would call: give it one.
  await context.addInitScript('globalThis.__name = (f) => f;');
  try {
    const page = await context.newPage();
    // Any page of the origin: the requests are then same-origin, as a viewer served by the archive makes them.
    await page.goto(`${new URL(base).origin}/${base.includes('/dicom-web') ? 'system' : 'healthz'}`);
    const result = await page.evaluate(viewerSession, {
      base,
      study: study.studyUid,
      series: study.seriesUid,
      pool: POOL,
    });
    if (result.frames !== study.instances || result.bytes < study.instances * 512 * 512 * 2)
      throw new Error(`${base}: ${result.frames} frames, ${result.bytes} bytes`);
    return result;
  } finally {
    await context.close();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

interface Side {
  name: string;
  runs: ViewerRun[];
}

export async function runViewerBench(): Promise<SuiteResult> {
  const work = tempDir('viewerbench');
  const certs = await testCertificates();
  // Three C-MOVE destinations Orthanc knows: the plain warm gateway, the TLS one, and each run's cold one.
  const ports = { warm: await freePort(), tls: await freePort(), cold: await freePort() };
  const pacs: TestPacs = await startOrthanc({
    loadFixtures: false,
    moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: ports.warm },
    moreDestinations: [
      { aeTitle: 'DWTLS', host: '127.0.0.1', port: ports.tls },
      { aeTitle: 'DWCOLD', host: '127.0.0.1', port: ports.cold },
    ],
  });
  const browsers: Browser[] = [];
  const gateways: GatewayProcess[] = [];
  try {
    process.stdout.write(`generating ${INSTANCES} CT instances into Orthanc...\n`);
    const study = await sendToOrthanc(pacs.httpPort as number, { label: 'viewer', instances: INSTANCES });
    const browser = await launchChromium();
    const http1Only = await launchChromium(['--disable-http2']);
    browsers.push(browser, http1Only);
    const warm = await startGateway(work, 'warm', { pacs, dimsePort: ports.warm });
    const tls = await startGateway(work, 'warm-tls', {
      pacs,
      dimsePort: ports.tls,
      aeTitle: 'DWTLS',
      tls: { cert: certs.cert, key: certs.key },
    });
    gateways.push(warm, tls);
    // One session each fills the warm gateways' caches.
    await openStudy(browser, warm.base, study);
    await openStudy(browser, tls.base, study);
    const orthancBase = `http://127.0.0.1:${pacs.httpPort}/dicom-web`;
    const sides: Side[] = [
      "Orthanc's own DICOMweb",
      'gateway warm',
      'gateway cold',
      'gateway warm, TLS, HTTP/1.1',
      'gateway warm, TLS, HTTP/2',
    ].map((name) => ({ name, runs: [] }));
    const [orthanc, warmSide, cold, tlsH1, tlsH2] = sides as [Side, Side, Side, Side, Side];
    for (let round = 0; round < RUNS; round++) {
      process.stdout.write(`viewer round ${round + 1} of ${RUNS}...\n`);
      orthanc.runs.push(await openStudy(browser, orthancBase, study));
      warmSide.runs.push(await openStudy(browser, warm.base, study));
      tlsH1.runs.push(await openStudy(http1Only, tls.base, study));
      tlsH2.runs.push(await openStudy(browser, tls.base, study));
      const fresh = await startGateway(work, `cold-${round}`, { pacs, dimsePort: ports.cold, aeTitle: 'DWCOLD' });
      try {
        cold.runs.push(await openStudy(browser, fresh.base, study));
      } finally {
        await fresh.stop();
      }
    }
    return viewerResult(sides, study, tlsH2, tlsH1);
  } finally {
    for (const b of browsers) await b.close();
    for (const g of gateways) await g.stop();
    await pacs.stop();
  }
}

function viewerResult(sides: Side[], study: GeneratedStudy, h2: Side, h1: Side): SuiteResult {
  const med = (s: Side, k: keyof Pick<ViewerRun, 'firstImageMs' | 'allImagesMs' | 'metadataMs'>): number =>
    median(s.runs.map((r) => r[k]));
  const [orthanc, warm, cold] = sides as [Side, Side, Side];
  return {
    suite: 'viewer',
    title: 'What a viewer waits for',
    setup: `A page in headless Chromium asks what OHIF asks when a study is opened by URL: the study search, the series search, the series metadata, then every frame (\`/frames/1\`, \`transfer-syntax=*\`), nearest the middle slice first, ${POOL} at a time. A series of ${study.instances} CT instances (512×512, 16-bit, ${(study.bytes / 1e6).toFixed(0)} MB) in Orthanc as shipped. Medians of ${RUNS} runs taken in turn; each run in a new browser context (no HTTP cache), on the origin it asks. Cold: a new gateway process with an empty cache each run. TLS: one gateway offering h2 and HTTP/1.1 by ALPN; Chromium with \`--disable-http2\` for HTTP/1.1.`,
    tables: [
      {
        title: `Opening a ${study.instances}-slice series`,
        columns: ['', 'series metadata', 'first image', 'all images', 'protocol'],
        rows: sides.map((s) => [
          s.name,
          seconds(med(s, 'metadataMs') / 1000),
          seconds(med(s, 'firstImageMs') / 1000),
          seconds(med(s, 'allImagesMs') / 1000),
          s.runs[0]?.protocols.filter((p) => p).join(', ') ?? '',
        ]),
        note: `Every run: ${sides.map((s) => `${s.name} ${s.runs.map((r) => (r.allImagesMs / 1000).toFixed(2)).join(' / ')} s`).join('; ')}.`,
      },
    ],
    targets: [
      target(
        "warm all images / Orthanc's own",
        ratio(med(warm, 'allImagesMs') / med(orthanc, 'allImagesMs')),
        '≤ 1×',
        med(warm, 'allImagesMs') <= med(orthanc, 'allImagesMs'),
      ),
      target(
        "cold all images / Orthanc's own",
        ratio(med(cold, 'allImagesMs') / med(orthanc, 'allImagesMs')),
        '≤ 1.5×',
        med(cold, 'allImagesMs') <= 1.5 * med(orthanc, 'allImagesMs'),
      ),
      target(
        'HTTP/2 all images / HTTP/1.1 (TLS, warm)',
        ratio(med(h2, 'allImagesMs') / med(h1, 'allImagesMs')),
        '< 1×',
        med(h2, 'allImagesMs') < med(h1, 'allImagesMs'),
      ),
      target(
        'first image, gateway warm',
        ms(med(warm, 'firstImageMs')),
        `≤ Orthanc's ${ms(med(orthanc, 'firstImageMs'))}`,
        med(warm, 'firstImageMs') <= med(orthanc, 'firstImageMs'),
      ),
    ],
    charts: [
      barChart(
        'open',
        `Opening a ${study.instances}-slice CT series in a viewer-like page (seconds, medians of ${RUNS})`,
        'seconds',
        sides.flatMap((s) => [
          { group: 'series metadata', series: s.name, value: med(s, 'metadataMs') / 1000 },
          { group: 'first image', series: s.name, value: med(s, 'firstImageMs') / 1000 },
          { group: 'all images', series: s.name, value: med(s, 'allImagesMs') / 1000 },
        ]),
      ),
    ],
  };
}
