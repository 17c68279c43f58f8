/**
 * Large studies (issue 13): how the cost of a retrieval grows with the study. Series of 500, 2,000 and 5,000 CT
 * instances (512×512, 16-bit; up to 2.6 GB) generated straight into one Orthanc, then per size, in one run:
 *   - DCMTK movescu → storescp (the network baseline),
 *   - the gateway cold (a new process, empty cache) and warm, and Orthanc's own WADO-RS, for the whole series;
 *   - `/series/{se}/metadata`: first byte and total, gateway cold (another new process) and warm, Orthanc's own;
 *   - the gateway's peak RSS per size (it must not grow with the study);
 * against Orthanc as shipped and tuned (TCP_NODELAY=1; the same data, Orthanc restarted on it). Then eviction
 * under pressure: the largest series through a cache of a quarter of its size, twice — served whole and
 * streamed, and the PACS asked for each instance once per retrieval, no more.
 *
 * DWG_BENCH_STUDY_SIZES=500,2000 picks other sizes.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { logged, startGateway } from './gateway-process.js';
import { barChart, lineChart, mb, ms, ratio, seconds, target, type Cell, type SuiteResult } from './report.js';
import { peakRssMb } from './stats.js';
import { sendToOrthanc, type GeneratedStudy } from './study-generator.js';
import { timedGet, type Timing } from './wado.js';
import { baselineMove } from './baseline.js';

const SIZES = (process.env.DWG_BENCH_STUDY_SIZES ?? '500,2000,5000').split(',').map(Number);
const ACCEPT = { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' };

interface SizeFigures {
  instances: number;
  bytes: number;
  baseline: Timing;
  cold: Timing;
  warm: Timing;
  orthanc: Timing;
  metadataCold: Timing;
  metadataWarm: Timing;
  metadataOrthanc: Timing;
  rssMb: number;
}

interface EvictionFigures {
  budgetBytes: number;
  first: Timing;
  second: Timing;
  /** Instances the PACS sent, per retrieval (from the gateway's "retrieval finished" log lines). */
  arrivedPerRetrieval: number[];
  cacheBytesAfter: number;
  rssMb: number;
}

function expectWhole(what: string, t: Timing, study: GeneratedStudy): Timing {
  // The multipart body carries every file plus part headers: less than the files means something is missing.
  if (t.bytes < study.bytes) throw new Error(`${what}: ${t.bytes} bytes, less than the study's ${study.bytes}`);
  return t;
}

/** One series: the baseline, the gateway cold and warm, Orthanc's own, and the metadata, first byte and total. */
async function measureSize(
  work: string,
  pacs: TestPacs,
  ports: { gateway: number; baseline: number },
  study: GeneratedStudy,
): Promise<SizeFigures> {
  const series = `/studies/${study.studyUid}/series/${study.seriesUid}`;
  const orthancBase = `http://127.0.0.1:${pacs.httpPort}/dicom-web`;
  const baseline = await baselineMove(work, pacs, ports.baseline, study);
  const gateway = await startGateway(work, `gw-${study.instances}`, { pacs, dimsePort: ports.gateway });
  let figures: Omit<SizeFigures, 'metadataCold' | 'rssMb'>;
  let rss: number;
  try {
    const cold = expectWhole('gateway cold', await timedGet(`${gateway.base}${series}`, ACCEPT), study);
    const orthanc = expectWhole("Orthanc's WADO-RS", await timedGet(`${orthancBase}${series}`, ACCEPT), study);
    const metadataOrthanc = await timedGet(`${orthancBase}${series}/metadata`);
    const warm = expectWhole('gateway warm', await timedGet(`${gateway.base}${series}`, ACCEPT), study);
    const metadataWarm = await timedGet(`${gateway.base}${series}/metadata`);
    figures = {
      instances: study.instances,
      bytes: study.bytes,
      baseline,
      cold,
      warm,
      orthanc,
      metadataWarm,
      metadataOrthanc,
    };
    rss = peakRssMb(gateway.process.pid as number);
  } finally {
    await gateway.stop();
    rmSync(path.join(work, `gw-${study.instances}-cache`), { recursive: true, force: true });
  }
  // What OHIF asks first: the metadata of a series the gateway has never seen.
  const fresh = await startGateway(work, `gw-meta-${study.instances}`, { pacs, dimsePort: ports.gateway });
  try {
    const metadataCold = await timedGet(`${fresh.base}${series}/metadata`);
    return { ...figures, metadataCold, rssMb: Math.max(rss, peakRssMb(fresh.process.pid as number)) };
  } finally {
    await fresh.stop();
    rmSync(path.join(work, `gw-meta-${study.instances}-cache`), { recursive: true, force: true });
  }
}

/** Bytes of the cached instance files under `dir` (what cache.maxBytes bounds; the SQLite index is beside them). */
function instanceBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && !/\.sqlite(-wal|-shm)?$/.test(entry.name))
      total += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}

async function measureEviction(
  work: string,
  pacs: TestPacs,
  port: number,
  study: GeneratedStudy,
): Promise<EvictionFigures> {
  const budgetBytes = Math.floor(study.bytes / 4);
  const gateway = await startGateway(work, 'gw-evict', {
    pacs,
    dimsePort: port,
    cacheMaxBytes: budgetBytes,
    logLevel: 'info',
    captureLog: true,
  });
  const series = `${gateway.base}/studies/${study.studyUid}/series/${study.seriesUid}`;
  try {
    const first = expectWhole('eviction, first', await timedGet(series, ACCEPT), study);
    const second = expectWhole('eviction, second', await timedGet(series, ACCEPT), study);
    const rssMb = peakRssMb(gateway.process.pid as number);
    await gateway.stop(); // its last log lines are in, and the cache is what it left
    const cacheBytesAfter = instanceBytes(path.join(work, 'gw-evict-cache'));
    return {
      budgetBytes,
      first,
      second,
      arrivedPerRetrieval: logged(gateway, 'retrieval finished').map((l) => Number(l.arrived)),
      cacheBytesAfter,
      rssMb,
    };
  } finally {
    await gateway.stop();
    rmSync(path.join(work, 'gw-evict-cache'), { recursive: true, force: true });
  }
}

export async function runStudiesBench(): Promise<SuiteResult> {
  const work = tempDir('studiesbench');
  const dataDir = path.join(work, 'orthanc-data');
  mkdirSync(dataDir);
  const ports = { gateway: await freePort(), baseline: await freePort() };
  const destinations = {
    moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: ports.gateway },
    moreDestinations: [{ aeTitle: 'BASELINE', host: '127.0.0.1', port: ports.baseline }],
  };
  const bySetup: Record<'shipped' | 'tuned', SizeFigures[]> = { shipped: [], tuned: [] };
  const studies: GeneratedStudy[] = [];
  let eviction: EvictionFigures | undefined;
  for (const setup of ['shipped', 'tuned'] as const) {
    const pacs = await startOrthanc({ loadFixtures: false, tuned: setup === 'tuned', dataDir, ...destinations });
    try {
      if (setup === 'shipped') {
        for (const instances of SIZES) {
          process.stdout.write(`generating ${instances} CT instances into Orthanc...\n`);
          studies.push(await sendToOrthanc(pacs.httpPort as number, { label: `studies-${instances}`, instances }));
        }
      }
      for (const study of studies) {
        process.stdout.write(`measuring ${study.instances} instances, Orthanc ${setup}...\n`);
        bySetup[setup].push(await measureSize(work, pacs, ports, study));
      }
      if (setup === 'shipped') {
        process.stdout.write('eviction under pressure...\n');
        eviction = await measureEviction(work, pacs, ports.gateway, studies[studies.length - 1] as GeneratedStudy);
      }
    } finally {
      await pacs.stop();
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  return studiesResult(bySetup, eviction as EvictionFigures, studies[studies.length - 1] as GeneratedStudy);
}

function studiesResult(
  bySetup: Record<'shipped' | 'tuned', SizeFigures[]>,
  eviction: EvictionFigures,
  largest: GeneratedStudy,
): SuiteResult {
  const setups = [
    ['as shipped', bySetup.shipped],
    ['tuned', bySetup.tuned],
  ] as const;
  const rate = (f: SizeFigures, t: Timing): string => `${(f.bytes / 1e6 / (t.totalMs / 1000)).toFixed(0)} MB/s`;
  const retrievalRows = (name: string, all: SizeFigures[]): Cell[][] =>
    all.map((f) => [
      `${f.instances} (${(f.bytes / 1e9).toFixed(2)} GB), Orthanc ${name}`,
      seconds(f.baseline.totalMs / 1000),
      `${seconds(f.cold.totalMs / 1000)} (${rate(f, f.cold)})`,
      seconds(f.orthanc.totalMs / 1000),
      `${seconds(f.warm.totalMs / 1000)} (${rate(f, f.warm)})`,
      ratio(f.cold.totalMs / f.baseline.totalMs),
      ratio(f.orthanc.totalMs / f.warm.totalMs),
      mb(f.rssMb),
    ]);
  const metadataRows = (name: string, all: SizeFigures[]): Cell[][] =>
    all.map((f) => [
      `${f.instances}, Orthanc ${name}`,
      `${ms(f.metadataCold.ttfbMs)} / ${seconds(f.metadataCold.totalMs / 1000)}`,
      `${ms(f.metadataWarm.ttfbMs)} / ${seconds(f.metadataWarm.totalMs / 1000)}`,
      `${ms(f.metadataOrthanc.ttfbMs)} / ${seconds(f.metadataOrthanc.totalMs / 1000)}`,
      ratio(f.metadataCold.totalMs / f.baseline.totalMs),
      ratio(f.metadataCold.totalMs / f.metadataOrthanc.totalMs),
    ]);
  const rssGrowth = (all: SizeFigures[]): number => (all[all.length - 1]?.rssMb ?? NaN) / (all[0]?.rssMb ?? NaN);
  const onceEach =
    eviction.arrivedPerRetrieval.length === 2 && eviction.arrivedPerRetrieval.every((n) => n === largest.instances);
  return {
    suite: 'studies',
    title: 'Large studies: retrieval by study size',
    setup: `One series each of ${SIZES.join(', ')} CT instances (512×512, 16-bit, ~0.53 MB each), generated straight into one Orthanc (bench/study-generator.ts). Per size, by curl: DCMTK \`movescu\` → \`storescp\` (the baseline), the whole series through a new gateway process (cold: empty cache, C-MOVE streamed; then warm), Orthanc's own WADO-RS, and \`/series/{se}/metadata\` — cold through another new gateway, warm, and Orthanc's own. Orthanc as shipped, then restarted tuned (TCP_NODELAY=1) on the same data. Peak RSS is the larger of the two gateway processes per size. Last, eviction under pressure: the ${largest.instances}-instance series through a gateway whose cache holds a quarter of it, twice.`,
    tables: [
      {
        title: 'Whole series (`GET /studies/{st}/series/{se}`)',
        columns: [
          'instances',
          'movescu → storescp',
          'gateway cold',
          "Orthanc's own",
          'gateway warm',
          'cold / baseline',
          "Orthanc's / warm",
          'gateway peak RSS',
        ],
        rows: setups.flatMap(([name, all]) => retrievalRows(name, all)),
      },
      {
        title: 'Series metadata (`/series/{se}/metadata`): first byte / total',
        columns: [
          'instances',
          'gateway cold',
          'gateway warm',
          "Orthanc's own",
          'cold total / movescu',
          "cold total / Orthanc's",
        ],
        rows: setups.flatMap(([name, all]) => metadataRows(name, all)),
        note: "Cold, the gateway streams each instance's metadata as the instance arrives, so the first byte comes with the first instance and the end with the last: the total is the C-MOVE of the series.",
      },
      {
        title: `Eviction under pressure: ${largest.instances} instances (${(largest.bytes / 1e9).toFixed(2)} GB) through a cache of ${(eviction.budgetBytes / 1e9).toFixed(2)} GB (Orthanc as shipped)`,
        columns: ['', 'first byte', 'total', 'instances the PACS sent'],
        rows: [
          [
            'first retrieval',
            ms(eviction.first.ttfbMs),
            seconds(eviction.first.totalMs / 1000),
            String(eviction.arrivedPerRetrieval[0] ?? '?'),
          ],
          [
            'second retrieval (what the budget forces: all again)',
            ms(eviction.second.ttfbMs),
            seconds(eviction.second.totalMs / 1000),
            String(eviction.arrivedPerRetrieval[1] ?? '?'),
          ],
        ],
        note: `Both answers carried the whole series. Cached instance files afterwards: ${(eviction.cacheBytesAfter / 1e6).toFixed(1)} MB of a ${(eviction.budgetBytes / 1e6).toFixed(1)} MB budget; peak RSS ${mb(eviction.rssMb)}.`,
      },
    ],
    targets: [
      ...setups.flatMap(([name, all]) =>
        all.map((f) =>
          target(
            `cold / movescu → storescp, ${f.instances} instances (${name})`,
            ratio(f.cold.totalMs / f.baseline.totalMs),
            '≤ 1.2×',
            f.cold.totalMs <= 1.2 * f.baseline.totalMs,
          ),
        ),
      ),
      ...setups.map(([name, all]) =>
        target(
          `peak RSS, largest / smallest study (${name})`,
          ratio(rssGrowth(all)),
          '≤ 1.2× (does not grow)',
          rssGrowth(all) <= 1.2,
        ),
      ),
      ...setups.map(([name, all]) =>
        target(
          `peak RSS, any size (${name})`,
          mb(Math.max(...all.map((f) => f.rssMb))),
          '< 200 MB',
          Math.max(...all.map((f) => f.rssMb)) < 200,
        ),
      ),
      target(
        'eviction: the PACS asked once per instance per retrieval',
        eviction.arrivedPerRetrieval.join(' + '),
        `${largest.instances} + ${largest.instances}`,
        onceEach,
      ),
      target(
        'eviction: cached instance files within the budget',
        `${(eviction.cacheBytesAfter / 1e6).toFixed(1)} MB`,
        `≤ ${(eviction.budgetBytes / 1e6).toFixed(1)} MB`,
        eviction.cacheBytesAfter <= eviction.budgetBytes,
      ),
    ],
    charts: [
      ...setups.map(([name, all]) =>
        lineChart(
          `retrieval-${name === 'tuned' ? 'tuned' : 'shipped'}`,
          `Retrieval time of a whole series by its size, Orthanc ${name} (seconds, log scale)`,
          { x: 'instances in the series', y: 'seconds', logX: true, logY: true },
          all.flatMap((f) => [
            { x: f.instances, y: f.cold.totalMs / 1000, series: 'gateway cold' },
            { x: f.instances, y: f.warm.totalMs / 1000, series: 'gateway warm' },
            { x: f.instances, y: f.orthanc.totalMs / 1000, series: "Orthanc's own WADO-RS" },
            { x: f.instances, y: f.baseline.totalMs / 1000, series: 'DCMTK movescu → storescp' },
          ]),
        ),
      ),
      barChart(
        'rss',
        'Gateway peak RSS by study size (MB)',
        'MB',
        setups.flatMap(([name, all]) =>
          all.map((f) => ({ group: `${f.instances} instances`, series: `gateway, Orthanc ${name}`, value: f.rssMb })),
        ),
      ),
    ],
  };
}
