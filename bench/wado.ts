/**
 * WADO benchmark (issue 4): a study of 500 CT instances (512×512, 16-bit, ~260 MB) in Orthanc, and one
 * 200-frame instance. Side by side in one run:
 *   (a) cold retrieval through the gateway (C-MOVE, streamed),
 *   (b) DCMTK movescu into storescp for the same study from the same Orthanc (the network baseline),
 *   (c) Orthanc's own DICOMweb WADO-RS for the same study,
 *   (d) the gateway warm from its cache;
 * time to first byte, total time, MB/s, and the gateway's peak RSS; then single frames of the cached
 * 200-frame instance.
 */
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startOrthanc } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { Dataset } from '../src/dicom/dataset.js';
import { encodePart10File } from '../src/dicom/part10.js';
import { tag, Tags } from '../src/dicom/tag.js';
import { uidFromLabel } from '../src/dicom/uid.js';
import { summarise, peakRssMb } from './stats.js';
import { startGateway, type GatewayProcess } from './gateway-process.js';
import { writeStudyFiles } from './study-generator.js';
import { baselineMove } from './baseline.js';
import { barChart, mb, ms, ratio, seconds, target, type SuiteResult } from './report.js';

const INSTANCES = Number(process.env.DWG_BENCH_INSTANCES ?? 500);
const FRAMES = 200;
const CT = '1.2.840.10008.5.1.4.1.1.2';

/** Writes the benchmark study — the CT series and, in a series of its own, the multi-frame instance — as Part 10 files. */
export function writeStudy(dir: string): {
  studyUid: string;
  seriesUid: string;
  multiFrame: { series: string; sop: string };
  bytes: number;
  seriesBytes: number;
} {
  const series = writeStudyFiles(dir, { label: 'wado', instances: INSTANCES });
  const mfSeries = uidFromLabel('bench/wado/multiframe-series');
  const mfSop = uidFromLabel('bench/wado/multiframe');
  const mf = Buffer.alloc(512 * 512 * 2 * FRAMES);
  for (let f = 0; f < FRAMES; f++)
    for (let p = 0; p < 512 * 512; p += 64) mf.writeUInt16LE((p + f) & 0x0fff, (f * 512 * 512 + p) * 2);
  const ds = new Dataset()
    .setText(Tags.SOPClassUID, CT, 'UI')
    .setText(Tags.SOPInstanceUID, mfSop, 'UI')
    .setText(tag(0x0008, 0x0060), 'CT', 'CS')
    .setText(Tags.PatientName, 'Bench^Mark')
    .setText(Tags.PatientID, 'BENCH')
    .setText(Tags.StudyInstanceUID, series.studyUid, 'UI')
    .setText(Tags.SeriesInstanceUID, mfSeries, 'UI')
    .setText(tag(0x0020, 0x0013), '1', 'IS')
    .setText(tag(0x0008, 0x0020), '20260101', 'DA')
    .setUint16(Tags.SamplesPerPixel, 1)
    .setText(Tags.PhotometricInterpretation, 'MONOCHROME2', 'CS')
    .setUint16(Tags.Rows, 512)
    .setUint16(Tags.Columns, 512)
    .setUint16(Tags.BitsAllocated, 16)
    .setUint16(Tags.BitsStored, 12)
    .setUint16(Tags.HighBit, 11)
    .setUint16(Tags.PixelRepresentation, 0)
    .setText(tag(0x0028, 0x0008), String(FRAMES), 'IS')
    .set({ tag: Tags.PixelData, vr: 'OW', bytes: mf });
  const file = encodePart10File(ds, { sopClassUid: CT, sopInstanceUid: mfSop });
  writeFileSync(path.join(dir, 'multiframe.dcm'), file);
  return {
    studyUid: series.studyUid,
    seriesUid: series.seriesUid,
    multiFrame: { series: mfSeries, sop: mfSop },
    bytes: series.bytes + file.length,
    seriesBytes: series.bytes,
  };
}

export interface Timing {
  ttfbMs: number;
  totalMs: number;
  bytes: number;
}

/**
 * GET with curl, the same client for every side (a Node client was itself the bottleneck at ~400 MB/s):
 * time to the first byte and to the end, and the bytes.
 */
export async function timedGet(url: string, headers: Record<string, string> = {}): Promise<Timing> {
  const args = [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code} %{time_starttransfer} %{time_total} %{size_download}',
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    url,
  ];
  const { stdout } = await run('curl', args);
  const [code, ttfb, total, bytes] = stdout.trim().split(' ');
  if (code !== '200') throw new Error(`${url}: HTTP ${code}`);
  return { ttfbMs: Number(ttfb) * 1000, totalMs: Number(total) * 1000, bytes: Number(bytes) };
}

interface WadoFigures {
  cold: Timing;
  baseline: Timing;
  orthanc: Timing;
  warm: Timing;
  frames: { p50: number; p95: number };
  firstFrame: Timing;
  rss: number;
}

/** One measurement against an Orthanc started as shipped, or tuned (TCP_NODELAY=1, not how it ships). */
async function measure(
  work: string,
  filesDir: string,
  study: ReturnType<typeof writeStudy>,
  tuned: boolean,
): Promise<WadoFigures> {
  const gatewayDimse = await freePort();
  const baselinePort = await freePort();
  const pacs = await startOrthanc({
    loadFixtures: false,
    tuned,
    moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: gatewayDimse },
    moreDestinations: [{ aeTitle: 'BASELINE', host: '127.0.0.1', port: baselinePort }],
  });
  const name = tuned ? 'tuned' : 'shipped';
  let gateway: GatewayProcess | undefined;
  try {
    process.stdout.write(`loading ${(study.bytes / 1e6).toFixed(0)} MB into Orthanc (${name}) with storescu...\n`);
    await run('storescu', ['-aec', pacs.aeTitle, '+sd', '127.0.0.1', String(pacs.port), filesDir]);

    // (b) the network baseline: movescu → storescp, same Orthanc, same series.
    const baseline = await baselineMove(work, pacs, baselinePort, {
      studyUid: study.studyUid,
      seriesUid: study.seriesUid,
      instances: INSTANCES,
      bytes: study.seriesBytes,
    });

    // The gateway, as its own process. DWG_BENCH_PROF=DIR: a CPU profile of it per run, to see where its time goes.
    const profile = process.env.DWG_BENCH_PROF
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.DWG_BENCH_PROF}`, `--cpu-prof-name=gateway-${name}.cpuprofile`]
      : [];
    gateway = await startGateway(work, `gateway-${name}`, {
      pacs,
      dimsePort: gatewayDimse,
      cacheMaxBytes: '2GiB',
      nodeArgs: profile,
    });
    const httpPort = gateway.httpPort;
    const seriesPath = `/studies/${study.studyUid}/series/${study.seriesUid}`;
    const accept = { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' };
    const cold = await timedGet(`http://127.0.0.1:${httpPort}/dicomweb${seriesPath}`, accept);
    const orthanc = await timedGet(`http://127.0.0.1:${pacs.httpPort}/dicom-web${seriesPath}`, accept);
    const warm = await timedGet(`http://127.0.0.1:${httpPort}/dicomweb${seriesPath}`, accept);

    // Frames of the cached 200-frame instance.
    const framesBase = `http://127.0.0.1:${httpPort}/dicomweb/studies/${study.studyUid}/series/${study.multiFrame.series}/instances/${study.multiFrame.sop}/frames`;
    const firstFrame = await timedGet(`${framesBase}/1`);
    const frameTimes: number[] = [];
    for (let i = 0; i < 100; i++) frameTimes.push((await timedGet(`${framesBase}/${1 + ((i * 37) % FRAMES)}`)).totalMs);
    return {
      cold,
      baseline,
      orthanc,
      warm,
      frames: summarise(frameTimes),
      firstFrame,
      rss: peakRssMb(gateway.process.pid as number),
    };
  } finally {
    await gateway?.stop();
    await pacs.stop();
  }
}

export async function runWadoBench(): Promise<SuiteResult> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'dwg-wadobench-'));
  const filesDir = path.join(work, 'files');
  mkdirSync(filesDir);
  process.stdout.write(`writing ${INSTANCES} CT instances and a ${FRAMES}-frame instance...\n`);
  const study = writeStudy(filesDir);
  try {
    const shipped = await measure(work, filesDir, study, false);
    const tuned = await measure(work, filesDir, study, true);
    const { seriesBytes } = study;
    const rate = (t: Timing): string => `${(seriesBytes / 1e6 / (t.totalMs / 1000)).toFixed(0)} MB/s`;
    const setups = [
      ['as shipped', shipped],
      ['tuned', tuned],
    ] as const;
    const sides = (f: WadoFigures): [string, Timing][] => [
      ['gateway, cold (C-MOVE, streamed)', f.cold],
      ['DCMTK movescu → storescp (first byte: first file)', f.baseline],
      ["Orthanc's own WADO-RS", f.orthanc],
      ['gateway, warm (cache)', f.warm],
    ];
    return {
      suite: 'wado',
      title: 'WADO-RS retrieval of a series',
      setup: `One series of ${INSTANCES} CT instances (512×512, 16-bit, ${(seriesBytes / 1e6).toFixed(0)} MB) in Orthanc, retrieved whole (\`GET /studies/{st}/series/{se}\`, \`transfer-syntax=*\`) by curl: through the gateway cold (C-MOVE into its Storage SCP, streamed while Orthanc sends), by DCMTK \`movescu\` into \`storescp\` (the network baseline), from Orthanc's own DICOMweb, and through the gateway warm (from its cache). Orthanc as shipped, then tuned (TCP_NODELAY=1), each with a new gateway process and cache. Then single frames of a cached ${FRAMES}-frame instance (100 requests).`,
      tables: [
        ...setups.map(([name, f]) => ({
          title: `Orthanc ${name}`,
          columns: ['', 'first byte', 'total', 'throughput'],
          rows: sides(f).map(([side, t]) => [side, ms(t.ttfbMs), seconds(t.totalMs / 1000), rate(t)]),
        })),
        {
          title: `Single frames of the cached ${FRAMES}-frame instance`,
          columns: ['Orthanc', 'first frame (cold)', 'p50', 'p95', 'gateway peak RSS'],
          rows: setups.map(([name, f]) => [
            name,
            ms(f.firstFrame.totalMs),
            ms(f.frames.p50),
            ms(f.frames.p95),
            mb(f.rss),
          ]),
        },
      ],
      targets: setups.flatMap(([name, f]) => [
        target(
          `cold / movescu → storescp (${name})`,
          ratio(f.cold.totalMs / f.baseline.totalMs),
          '≤ 1.2×',
          f.cold.totalMs <= 1.2 * f.baseline.totalMs,
        ),
        target(
          `first byte after the PACS's first instance (${name})`,
          ms(f.cold.ttfbMs - f.baseline.ttfbMs),
          '< 100 ms',
          f.cold.ttfbMs - f.baseline.ttfbMs < 100,
        ),
        target(
          `Orthanc's WADO-RS / gateway warm (${name})`,
          ratio(f.orthanc.totalMs / f.warm.totalMs),
          '≥ 1.5×',
          f.orthanc.totalMs >= 1.5 * f.warm.totalMs,
        ),
        target(`gateway peak RSS (${name})`, mb(f.rss), '< 200 MB', f.rss < 200),
        target(`single cached frame p50 (${name})`, ms(f.frames.p50), '< 10 ms', f.frames.p50 < 10),
      ]),
      charts: [
        barChart(
          'series',
          `Time to retrieve ${INSTANCES} CT instances (${(seriesBytes / 1e6).toFixed(0)} MB), seconds`,
          'seconds',
          setups.flatMap(([name, f]) =>
            sides(f).map(([side, t]) => ({ group: `Orthanc ${name}`, series: side, value: t.totalMs / 1000 })),
          ),
        ),
      ],
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
