/**
 * The embedded archive at scale (issue 13): small synthetic instances (64×64 MR, ~9 KB; 10 per study, 3 studies
 * per patient, study dates over ten years) sent by STOW-RS into one new archive up to 10,000, 100,000 and
 * 1,000,000 instances. Through the whole ingest: instances/s per batch (the rate must not fall off). At each size:
 * QIDO p50/p95 of a patient-name search (one patient), a date-range search with `limit=101` and the `limit=101`
 * study list (what OHIF sends), and study metadata; the gateway's peak RSS. Orthanc (as shipped) gets the same
 * first 10,000 instances and the same queries — beyond that its SQLite index is known to slow down (the Orthanc
 * book's benchmark), and loading it here would take longer than the rest of the run.
 *
 * DWG_BENCH_SCALE_SIZES=10000,100000 picks other sizes; DWG_BENCH_SCALE_ORTHANC=0 leaves Orthanc out.
 */
import http from 'node:http';
import { once } from 'node:events';
import { startOrthanc } from '../devkit/pacs.js';
import { tempDir } from '../devkit/temp.js';
import { Dataset } from '../src/dicom/dataset.js';
import { encodePart10File } from '../src/dicom/part10.js';
import { tag, Tags } from '../src/dicom/tag.js';
import { uidFromLabel } from '../src/dicom/uid.js';
import { startGateway } from './gateway-process.js';
import { barChart, lineChart, mb, ms, ratio, target, type SuiteResult } from './report.js';
import { get, peakRssMb, sequential, storageReadBytes, summarise, type Summary } from './stats.js';

const SIZES = (process.env.DWG_BENCH_SCALE_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const ORTHANC_SIZE = process.env.DWG_BENCH_SCALE_ORTHANC === '0' ? 0 : Math.min(10_000, SIZES[0] ?? 10_000);
const PER_STUDY = 10;
const STUDIES_PER_PATIENT = 3;
const BATCH = 5000;
const QUERY_RUNS = 100;
const MR = '1.2.840.10008.5.1.4.1.1.4';
const BOUNDARY = 'dicomweb-gateway-scale-boundary';

const studyUid = (s: number): string => uidFromLabel(`scale/study${s}`);
const patientName = (p: number): string => `PAT${String(p).padStart(7, '0')}^SCALE`;
/** Study s is dated s days back from 2026-01-01, modulo ten years: every day has studies. */
function studyDate(s: number): string {
  const d = new Date(Date.UTC(2026, 0, 1) - (s % 3650) * 86_400_000);
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

const pixels = Buffer.alloc(64 * 64 * 2);

/** Instance i of the synthetic archive, as a Part 10 file. */
function instanceFile(i: number): Buffer {
  const s = Math.floor(i / PER_STUDY);
  const p = Math.floor(s / STUDIES_PER_PATIENT);
  const sop = uidFromLabel(`scale/instance${i}`);
  pixels.writeUInt32LE(i, 0); // each instance's pixels its own
  const ds = new Dataset()
    .setText(Tags.SOPClassUID, MR, 'UI')
    .setText(Tags.SOPInstanceUID, sop, 'UI')
    .setText(tag(0x0008, 0x0060), 'MR', 'CS')
    .setText(Tags.PatientName, patientName(p))
    .setText(Tags.PatientID, `SCALE${p}`)
    .setText(Tags.StudyInstanceUID, studyUid(s), 'UI')
    .setText(Tags.SeriesInstanceUID, uidFromLabel(`scale/series${s}`), 'UI')
    .setText(tag(0x0008, 0x0020), studyDate(s), 'DA')
    .setText(tag(0x0008, 0x0050), `ACC${s}`, 'SH')
    .setText(tag(0x0020, 0x0013), String((i % PER_STUDY) + 1), 'IS')
    .setUint16(Tags.SamplesPerPixel, 1)
    .setText(Tags.PhotometricInterpretation, 'MONOCHROME2', 'CS')
    .setUint16(Tags.Rows, 64)
    .setUint16(Tags.Columns, 64)
    .setUint16(Tags.BitsAllocated, 16)
    .setUint16(Tags.BitsStored, 12)
    .setUint16(Tags.HighBit, 11)
    .setUint16(Tags.PixelRepresentation, 0)
    .set({ tag: Tags.PixelData, vr: 'OW', bytes: pixels });
  return encodePart10File(ds, { sopClassUid: MR, sopInstanceUid: sop });
}

/** One STOW-RS request of instances [from, to), generated as it is sent (backpressure: waits for 'drain'). */
export async function stowRange(url: string, from: number, to: number): Promise<void> {
  const req = http.request(url, {
    method: 'POST',
    headers: {
      'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
      accept: 'application/dicom+json',
    },
  });
  const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  for (let i = from; i < to; i++) {
    const ok = req.write(
      Buffer.concat([
        Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`),
        instanceFile(i),
        Buffer.from('\r\n'),
      ]),
    );
    if (!ok) await once(req, 'drain');
  }
  req.end(`--${BOUNDARY}--\r\n`);
  const res = await answered;
  res.resume();
  await once(res, 'end');
  if (res.statusCode !== 200) throw new Error(`STOW-RS of instances ${from}–${to}: HTTP ${res.statusCode}`);
}

interface Queries {
  patient: Summary;
  dateRange: Summary;
  dateYear: Summary;
  studyList: Summary;
  metadata: Summary;
}
/** Storage read per request, KB, by query (the peer's page-cache misses; the gateway's only, where its pid is known). */
type ReadPerRequest = Record<keyof Queries, number>;

/** The queries against a DICOMweb base, on an archive of `size` instances; `pid`: the server's, to count its reads. */
async function measureQueries(
  base: string,
  size: number,
  pid?: number,
): Promise<{ latency: Queries; readKb?: ReadPerRequest }> {
  const studies = size / PER_STUDY;
  const patients = Math.floor(studies / STUDIES_PER_PATIENT);
  let n = 0;
  // A different patient, day and study each time, spread over the archive (no answer cached by the peer).
  const pick = (count: number): number => (n * 7919 + 13) % count;
  const urls = {
    patient: (): string => `${base}/studies?PatientName=${patientName(pick(patients)).split('^')[0]}*`,
    dateRange: (): string => {
      const d = studyDate(pick(studies));
      return `${base}/studies?StudyDate=${d}-${d}&limit=101`;
    },
    dateYear: (): string => {
      const y = studyDate(pick(studies)).slice(0, 4);
      return `${base}/studies?StudyDate=${y}0101-${y}1231&limit=101`;
    },
    studyList: (): string => `${base}/studies?limit=101`,
    metadata: (): string => `${base}/studies/${studyUid(pick(studies))}/metadata`,
  };
  const latency: Partial<Queries> = {};
  const readKb: Partial<ReadPerRequest> = {};
  for (const [name, url] of Object.entries(urls) as [keyof Queries, () => string][]) {
    const readBefore = pid === undefined ? 0 : storageReadBytes(pid);
    latency[name] = summarise(
      await sequential(
        QUERY_RUNS,
        async () => {
          n++;
          const r = await get(url());
          if (r.status !== 200) throw new Error(`${name}: HTTP ${r.status}`);
        },
        5,
      ),
    );
    if (pid !== undefined) readKb[name] = (storageReadBytes(pid) - readBefore) / 1024 / (QUERY_RUNS + 5);
  }
  return { latency: latency as Queries, ...(pid === undefined ? {} : { readKb: readKb as ReadPerRequest }) };
}

interface ScaleFigures {
  /** instances/s per batch, by instances in the archive at its end. */
  rate: { at: number; perSecond: number }[];
  bySize: { size: number; gateway: Queries; readKb: ReadPerRequest; rssMb: number; orthanc?: Queries }[];
  orthancRate?: number;
}

export async function runScaleBench(): Promise<SuiteResult> {
  const work = tempDir('scalebench');
  const figures: ScaleFigures = { rate: [], bySize: [] };
  const gateway = await startGateway(work, 'scale', { logLevel: 'error' });
  try {
    let stored = 0;
    for (const size of SIZES) {
      while (stored < size) {
        const to = Math.min(size, stored + BATCH);
        const started = performance.now();
        // Two requests at once, as two modalities or scripts would send.
        const half = stored + Math.ceil((to - stored) / 2);
        await Promise.all([
          stowRange(`${gateway.base}/studies`, stored, half),
          stowRange(`${gateway.base}/studies`, half, to),
        ]);
        figures.rate.push({ at: to, perSecond: (to - stored) / ((performance.now() - started) / 1000) });
        stored = to;
        if (stored % 50_000 === 0) process.stdout.write(`  ${stored} instances in the archive\n`);
      }
      process.stdout.write(`querying the archive at ${size} instances...\n`);
      const pid = gateway.process.pid as number;
      const { latency, readKb } = await measureQueries(gateway.base, size, pid);
      figures.bySize.push({ size, gateway: latency, readKb: readKb as ReadPerRequest, rssMb: peakRssMb(pid) });
    }
  } finally {
    await gateway.stop();
  }
  if (ORTHANC_SIZE > 0) {
    const orthanc = await startOrthanc({ loadFixtures: false });
    try {
      process.stdout.write(`loading ${ORTHANC_SIZE} instances into Orthanc by its STOW-RS...\n`);
      const base = `http://127.0.0.1:${orthanc.httpPort}/dicom-web`;
      const started = performance.now();
      for (let from = 0; from < ORTHANC_SIZE; from += BATCH) {
        const to = Math.min(ORTHANC_SIZE, from + BATCH);
        const half = from + Math.ceil((to - from) / 2);
        await Promise.all([stowRange(`${base}/studies`, from, half), stowRange(`${base}/studies`, half, to)]);
      }
      figures.orthancRate = ORTHANC_SIZE / ((performance.now() - started) / 1000);
      const row = figures.bySize.find((b) => b.size === ORTHANC_SIZE);
      if (row) row.orthanc = (await measureQueries(base, ORTHANC_SIZE)).latency;
    } finally {
      await orthanc.stop();
    }
  }
  return scaleResult(figures);
}

function scaleResult(f: ScaleFigures): SuiteResult {
  const first = f.bySize[0];
  const last = f.bySize[f.bySize.length - 1];
  const head = f.rate.slice(0, Math.max(1, Math.ceil(f.rate.length / 10)));
  const tail = f.rate.slice(-Math.max(1, Math.ceil(f.rate.length / 10)));
  const mean = (xs: { perSecond: number }[]): number => xs.reduce((a, x) => a + x.perSecond, 0) / xs.length;
  const rateRatio = mean(tail) / mean(head);
  const QUERY_NAMES: [keyof Queries, string][] = [
    ['patient', 'patient name (one patient)'],
    ['dateRange', 'a day, limit=101'],
    ['dateYear', 'a year, limit=101'],
    ['studyList', 'study list, limit=101'],
    ['metadata', 'study metadata (10 instances)'],
  ];
  const growth = (k: keyof Queries): number => (last?.gateway[k].p50 ?? NaN) / (first?.gateway[k].p50 ?? NaN);
  const fmtSize = (n: number): string => n.toLocaleString('en-US');
  return {
    suite: 'scale',
    title: 'The embedded archive at scale',
    setup: `Synthetic instances (64×64 MR, ~9 KB; ${PER_STUDY} per study, ${STUDIES_PER_PATIENT} studies per patient, study dates spread over ten years) sent by STOW-RS (two requests of ${BATCH / 2} at a time, generated as sent) into one new embedded archive, up to ${SIZES.map(fmtSize).join(', ')} instances. At each size, ${QUERY_RUNS} sequential requests of each query, each for a different patient, day, year or study: \`/studies?PatientName=PAT0001234*\` (one patient's ${STUDIES_PER_PATIENT} studies), \`/studies?StudyDate=D-D&limit=101\` (one day's studies), \`/studies?StudyDate=Y0101-Y1231&limit=101\` (a year: more than the limit), \`/studies?limit=101\` (OHIF's study list, its first page) and \`/studies/{st}/metadata\`. Orthanc as shipped gets the first ${fmtSize(ORTHANC_SIZE)} by its own STOW-RS and the same queries.`,
    tables: [
      {
        title: 'Query latency by archive size, p50 / p95',
        columns: ['instances', ...QUERY_NAMES.map(([, label]) => label), 'gateway peak RSS'],
        rows: f.bySize.flatMap((b) => [
          [
            `${fmtSize(b.size)}, gateway`,
            ...QUERY_NAMES.map(([k]) => `${ms(b.gateway[k].p50)} / ${ms(b.gateway[k].p95)}`),
            mb(b.rssMb),
          ],
          ...(b.orthanc
            ? [
                [
                  `${fmtSize(b.size)}, Orthanc's own DICOMweb`,
                  ...QUERY_NAMES.map(([k]) => `${ms(b.orthanc?.[k].p50 ?? NaN)} / ${ms(b.orthanc?.[k].p95 ?? NaN)}`),
                  '',
                ],
              ]
            : []),
        ]),
      },
      {
        title:
          'Read from storage by the gateway per request, KB (page-cache misses: what the OS had not kept of the archive)',
        columns: ['instances', ...QUERY_NAMES.map(([, label]) => label)],
        rows: f.bySize.map((b) => [fmtSize(b.size), ...QUERY_NAMES.map(([k]) => b.readKb[k].toFixed(0))]),
      },
      {
        title: 'Ingest rate over the whole ingest (STOW-RS, durable)',
        columns: ['', 'instances/s'],
        rows: [
          [
            `first ${head.length} batches (to ${fmtSize(head[head.length - 1]?.at ?? 0)} instances)`,
            mean(head).toFixed(0),
          ],
          [
            `last ${tail.length} batches (to ${fmtSize(tail[tail.length - 1]?.at ?? 0)} instances)`,
            mean(tail).toFixed(0),
          ],
          ...(f.orthancRate
            ? [[`Orthanc's STOW-RS, first ${fmtSize(ORTHANC_SIZE)} instances`, f.orthancRate.toFixed(0)]]
            : []),
        ],
      },
    ],
    targets: [
      ...QUERY_NAMES.slice(0, 4).map(([k, label]) =>
        target(
          `${label}: p50 at ${fmtSize(last?.size ?? 0)} / at ${fmtSize(first?.size ?? 0)}`,
          ratio(growth(k)),
          '≤ 3×',
          growth(k) <= 3,
        ),
      ),
      target(`ingest rate at the end / at the start`, ratio(rateRatio), '≥ 0.8×', rateRatio >= 0.8),
      target(
        'gateway peak RSS',
        mb(Math.max(...f.bySize.map((b) => b.rssMb))),
        '< 200 MB',
        Math.max(...f.bySize.map((b) => b.rssMb)) < 200,
      ),
    ],
    charts: [
      lineChart(
        'qido',
        'Query p50 by archive size (ms, log scales)',
        { x: 'instances in the archive', y: 'milliseconds', logX: true, logY: true },
        f.bySize.flatMap((b) => [
          ...QUERY_NAMES.map(([k, label]) => ({ x: b.size, y: b.gateway[k].p50, series: `gateway: ${label}` })),
          ...(b.orthanc
            ? QUERY_NAMES.map(([k, label]) => ({
                x: b.size,
                y: b.orthanc?.[k].p50 ?? NaN,
                series: `Orthanc: ${label}`,
              }))
            : []),
        ]),
      ),
      lineChart(
        'ingest',
        'Ingest rate over the ingest (instances per second, per batch)',
        { x: 'instances in the archive', y: 'instances per second' },
        f.rate.map((r) => ({ x: r.at, y: r.perSecond, series: 'gateway embedded archive (STOW-RS, durable)' })),
      ),
      ...(first?.orthanc
        ? [
            barChart(
              'orthanc',
              `Query p50 at ${fmtSize(first.size)} instances (ms)`,
              'milliseconds',
              QUERY_NAMES.flatMap(([k, label]) => [
                { group: label, series: 'gateway embedded archive', value: first.gateway[k].p50 },
                { group: label, series: "Orthanc's own DICOMweb", value: first.orthanc?.[k].p50 ?? NaN },
              ]),
            ),
          ]
        : []),
    ],
  };
}
