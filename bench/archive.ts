/**
 * Embedded archive benchmark (issue 11): the same data in the gateway's embedded archive and in Orthanc (as
 * shipped: SQLite index, its storage synced), side by side in one run:
 *   - ingest of a 500-instance CT study (512×512, 16-bit) by DCMTK storescu into the gateway (durable: each
 *     instance fdatasync'ed and its index row committed before Success), into Orthanc, and into DCMTK storescp
 *     (which writes without any sync: the upper bound);
 *   - QIDO `/studies?PatientName=Doe*` (the fixtures are archived too), 1 and 8 clients;
 *   - `/studies/{study}/metadata` of the 500-instance study;
 * p50/p95, req/s, instances/s, MB/s and the gateway's peak RSS.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { freePort, waitForPort } from '../devkit/ports.js';
import { run, startProcess, DCMTK_ENV, SHIPPED_ENV } from '../devkit/processes.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { tempDir } from '../devkit/temp.js';
import { writeStudy } from './wado.js';
import { startGateway } from './gateway-process.js';
import { get, sequential, parallel, summarise, peakRssMb, type Summary } from './stats.js';
import { barChart, mb, ms, perSecond, ratio, seconds, target, type Cell, type SuiteResult } from './report.js';

const QUERY = 'PatientName=Doe*';
const SEQUENTIAL = 200;
const CLIENTS = 8;
const PER_CLIENT = 100;
const METADATA_RUNS = 20;

/** storescu of `files` on one association (as shipped: Nagle on; tuned: TCP_NODELAY=1); seconds taken. */
async function ingest(
  port: number,
  calledAe: string,
  files: string[],
  env: NodeJS.ProcessEnv = SHIPPED_ENV,
): Promise<number> {
  const started = performance.now();
  await run('storescu', ['-aec', calledAe, '127.0.0.1', String(port), ...files], { env });
  return (performance.now() - started) / 1000;
}

export async function runArchiveBench(): Promise<SuiteResult> {
  const work = tempDir('archivebench');
  const filesDir = path.join(work, 'files');
  mkdirSync(filesDir);
  const study = writeStudy(filesDir);
  const ct = readdirSync(filesDir)
    .filter((f) => f.startsWith('ct'))
    .map((f) => path.join(filesDir, f));
  const ctBytes = ct.reduce((a, f) => a + statSync(f).size, 0);
  const fixtures = fixtureFiles().files;

  const gateway = await startGateway(work, 'archive', { logLevel: 'error' });
  const { httpPort, dimsePort } = gateway;
  const orthanc = await startOrthanc({ loadFixtures: false });
  const storescp = await startStorescp(work, 'storescp', SHIPPED_ENV);
  try {
    const shippedIngest = await ingestIntoEach(
      ct,
      { gateway: dimsePort, orthanc, storescp: storescp.port },
      SHIPPED_ENV,
    );
    await ingest(dimsePort, 'DICOMWEB', fixtures);
    await ingest(orthanc.port, orthanc.aeTitle, fixtures);
    const tuned = await tunedIngest(ct, work);

    const gatewayBase = `http://127.0.0.1:${httpPort}/dicomweb`;
    const orthancBase = `http://127.0.0.1:${orthanc.httpPort}/dicom-web`;
    const qido = { gateway: `${gatewayBase}/studies?${QUERY}`, orthanc: `${orthancBase}/studies?${QUERY}` };
    const metadata = {
      gateway: `${gatewayBase}/studies/${study.studyUid}/metadata`,
      orthanc: `${orthancBase}/studies/${study.studyUid}/metadata`,
    };
    for (const url of [...Object.values(qido), ...Object.values(metadata)]) {
      const r = await get(url);
      if (r.status !== 200) throw new Error(`warm-up ${url}: HTTP ${r.status}`);
    }
    const seqGateway = summarise(await sequential(SEQUENTIAL, () => get(qido.gateway)));
    const seqOrthanc = summarise(await sequential(SEQUENTIAL, () => get(qido.orthanc)));
    const parGateway = await parallel(CLIENTS, PER_CLIENT, () => get(qido.gateway));
    const parOrthanc = await parallel(CLIENTS, PER_CLIENT, () => get(qido.orthanc));
    const metaGateway = summarise(await sequential(METADATA_RUNS, () => get(metadata.gateway), 2));
    const metaOrthanc = summarise(await sequential(METADATA_RUNS, () => get(metadata.orthanc), 2));
    const rss = peakRssMb(gateway.process.pid as number);

    const rate = (sec: number): Cell[] => [
      perSecond(ct.length / sec, 'instances'),
      `${(ctBytes / 2 ** 20 / sec).toFixed(0)} MB/s`,
      seconds(sec),
    ];
    const latency = (name: string, f: Summary): Cell[] => [name, ms(f.p50), ms(f.p95)];
    const ingestSides = (f: IngestSeconds, setup: string): Cell[][] => [
      [`gateway embedded archive, durable (${setup})`, ...rate(f.gateway)],
      [`Orthanc (${setup})`, ...rate(f.orthanc)],
      [`DCMTK storescp, no sync (${setup})`, ...rate(f.storescp)],
    ];
    return {
      suite: 'archive',
      title: 'The embedded archive',
      setup: `The same data in the gateway's embedded archive and in Orthanc as shipped (SQLite index, storage synced): a ${ct.length}-instance CT study (512×512, 16-bit, ${(ctBytes / 2 ** 20).toFixed(0)} MB) sent by DCMTK \`storescu\` on one association into each (the gateway durable: each instance synced and its index row committed before Success), and into DCMTK \`storescp\` (which writes without any sync: the upper bound); again with every DCMTK process tuned (TCP_NODELAY=1). Then QIDO \`/studies?${QUERY}\` (the fixtures are archived too), ${SEQUENTIAL} sequential and ${CLIENTS} clients × ${PER_CLIENT}, and \`/studies/{study}/metadata\` of the ${ct.length}-instance study, ${METADATA_RUNS} times.`,
      tables: [
        {
          title: 'Ingest by storescu, one association',
          columns: ['', 'instances/s', 'MB/s', 'time'],
          rows: [...ingestSides(shippedIngest, 'as shipped'), ...ingestSides(tuned, 'tuned')],
        },
        {
          title: `QIDO-RS \`/studies?${QUERY}\` and study metadata`,
          columns: ['', 'p50', 'p95'],
          rows: [
            latency(`QIDO, gateway embedded archive, ${SEQUENTIAL} sequential`, seqGateway),
            latency(`QIDO, Orthanc's own DICOMweb, ${SEQUENTIAL} sequential`, seqOrthanc),
            latency(
              `QIDO, gateway, ${CLIENTS} clients (${parGateway.rps.toFixed(0)} req/s)`,
              summarise(parGateway.latencies),
            ),
            latency(
              `QIDO, Orthanc, ${CLIENTS} clients (${parOrthanc.rps.toFixed(0)} req/s)`,
              summarise(parOrthanc.latencies),
            ),
            latency(`study metadata (${ct.length} instances), gateway`, metaGateway),
            latency(`study metadata (${ct.length} instances), Orthanc`, metaOrthanc),
          ],
        },
      ],
      targets: [
        target(
          'QIDO p50 gateway / Orthanc',
          ratio(seqGateway.p50 / seqOrthanc.p50),
          '≤ 1×',
          seqGateway.p50 <= seqOrthanc.p50,
        ),
        target(
          'metadata p50, Orthanc / gateway',
          ratio(metaOrthanc.p50 / metaGateway.p50),
          '≥ 2×',
          metaOrthanc.p50 / metaGateway.p50 >= 2,
        ),
        target(
          'ingest rate gateway / Orthanc',
          ratio(shippedIngest.orthanc / shippedIngest.gateway),
          '≥ 5×',
          shippedIngest.orthanc / shippedIngest.gateway >= 5,
        ),
        target(
          'ingest rate gateway / storescp',
          ratio(shippedIngest.storescp / shippedIngest.gateway),
          '≥ 0.5×',
          shippedIngest.storescp / shippedIngest.gateway >= 0.5,
        ),
        target('gateway peak RSS', mb(rss), '< 200 MB', rss < 200),
      ],
      charts: [
        barChart(
          'ingest',
          `Ingest of ${ct.length} CT instances by storescu, instances per second`,
          'instances per second',
          (
            [
              ['as shipped', shippedIngest],
              ['tuned', tuned],
            ] as const
          ).flatMap(([setup, f]) => [
            { group: setup, series: 'gateway embedded archive (durable)', value: ct.length / f.gateway },
            { group: setup, series: 'Orthanc', value: ct.length / f.orthanc },
            { group: setup, series: 'DCMTK storescp (no sync)', value: ct.length / f.storescp },
          ]),
        ),
      ],
    };
  } finally {
    await gateway.stop();
    await storescp.stop();
    await orthanc.stop();
  }
}

/** The ingest again with every DCMTK process tuned (TCP_NODELAY=1): a new gateway archive, Orthanc and storescp. */
async function tunedIngest(ct: string[], work: string): Promise<IngestSeconds> {
  const gateway = await startGateway(work, 'archive-tuned', { logLevel: 'error' });
  const orthanc = await startOrthanc({ loadFixtures: false, tuned: true });
  const storescp = await startStorescp(work, 'storescp-tuned', DCMTK_ENV);
  try {
    return await ingestIntoEach(ct, { gateway: gateway.dimsePort, orthanc, storescp: storescp.port }, DCMTK_ENV);
  } finally {
    await gateway.stop();
    await storescp.stop();
    await orthanc.stop();
  }
}

/** DCMTK storescp writing under `work/name` without any sync (the upper bound), listening. */
export async function startStorescp(
  work: string,
  name: string,
  env: NodeJS.ProcessEnv,
): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = path.join(work, name);
  mkdirSync(dir);
  const proc = startProcess('storescp', ['-aet', 'STORESCP', '-od', dir, String(port)], { env });
  await waitForPort(port);
  return { port, stop: () => proc.stop() };
}

/** The study into the gateway, Orthanc and storescp in turn; seconds each. */
interface IngestSeconds {
  gateway: number;
  orthanc: number;
  storescp: number;
}

async function ingestIntoEach(
  ct: string[],
  to: { gateway: number; orthanc: TestPacs; storescp: number },
  env: NodeJS.ProcessEnv,
): Promise<IngestSeconds> {
  return {
    gateway: await ingest(to.gateway, 'DICOMWEB', ct, env),
    orthanc: await ingest(to.orthanc.port, to.orthanc.aeTitle, ct, env),
    storescp: await ingest(to.storescp, 'STORESCP', ct, env),
  };
}
