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
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { freePort, waitForPort } from '../devkit/ports.js';
import { run, startProcess, DCMTK_ENV, SHIPPED_ENV } from '../devkit/processes.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { tempDir } from '../devkit/temp.js';
import { writeStudy } from './wado.js';
import { get, sequential, parallel, summarise, fmt, peakRssMb } from './stats.js';

const QUERY = 'PatientName=Doe*';
const SEQUENTIAL = 200;
const CLIENTS = 8;
const PER_CLIENT = 100;
const METADATA_RUNS = 20;

/** storescu of `files` on one association (as shipped: Nagle on; tuned: TCP_NODELAY=1); seconds taken. */
async function ingest(port: number, calledAe: string, files: string[], env: NodeJS.ProcessEnv = SHIPPED_ENV): Promise<number> {
  const started = performance.now();
  await run('storescu', ['-aec', calledAe, '127.0.0.1', String(port), ...files], { env });
  return (performance.now() - started) / 1000;
}

export async function runArchiveBench(): Promise<void> {
  const work = tempDir('archivebench');
  const filesDir = path.join(work, 'files');
  mkdirSync(filesDir);
  const study = writeStudy(filesDir);
  const ct = readdirSync(filesDir).filter((f) => f.startsWith('ct')).map((f) => path.join(filesDir, f));
  const ctBytes = ct.reduce((a, f) => a + statSync(f).size, 0);
  const fixtures = fixtureFiles().files;

  const { httpPort, dimsePort, process: gateway } = await startGatewayProcess(work, 'archive');
  const orthanc = await startOrthanc({ loadFixtures: false });
  const storescp = await startStorescp(work, 'storescp', SHIPPED_ENV);
  try {
    const seconds = await ingestIntoEach(ct, { gateway: dimsePort, orthanc, storescp: storescp.port }, SHIPPED_ENV);
    await ingest(dimsePort, 'DICOMWEB', fixtures);
    await ingest(orthanc.port, orthanc.aeTitle, fixtures);
    const tuned = await tunedIngest(ct, work);

    const gatewayBase = `http://127.0.0.1:${httpPort}/dicomweb`;
    const orthancBase = `http://127.0.0.1:${orthanc.httpPort}/dicom-web`;
    const qido = { gateway: `${gatewayBase}/studies?${QUERY}`, orthanc: `${orthancBase}/studies?${QUERY}` };
    const metadata = { gateway: `${gatewayBase}/studies/${study.studyUid}/metadata`, orthanc: `${orthancBase}/studies/${study.studyUid}/metadata` };
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
    const rss = peakRssMb(gateway.pid as number);

    const rate = (s: number): string => `${(ct.length / s).toFixed(0).padStart(5)} instances/s  ${(ctBytes / 2 ** 20 / s).toFixed(0).padStart(4)} MB/s  (${s.toFixed(2)} s)`;
    const line = (name: string, s: { p50: number; p95: number }): string => `  ${name.padEnd(32)} p50 ${fmt(s.p50).padStart(10)}   p95 ${fmt(s.p95).padStart(10)}`;
    const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
    console.log(`\nEmbedded archive benchmark — ${ct.length} CT instances (${(ctBytes / 2 ** 20).toFixed(0)} MB) and the fixtures, Orthanc as shipped, ${os.cpus().length} cores`);
    console.log('\nIngest by storescu (one association):');
    console.log(`  gateway embedded archive (durable)  ${rate(seconds.gateway)}`);
    console.log(`  Orthanc (as shipped)                ${rate(seconds.orthanc)}`);
    console.log(`  DCMTK storescp (no sync)            ${rate(seconds.storescp)}`);
    console.log('Second figure, tuned (TCP_NODELAY=1 in storescu, Orthanc and storescp — not how they ship):');
    console.log(`  gateway embedded archive (durable)  ${rate(tuned.gateway)}`);
    console.log(`  Orthanc (tuned)                     ${rate(tuned.orthanc)}`);
    console.log(`  DCMTK storescp (no sync)            ${rate(tuned.storescp)}`);
    console.log(`\nQIDO GET /studies?${QUERY}, ${SEQUENTIAL} sequential:`);
    console.log(line('gateway embedded archive', seqGateway));
    console.log(line("Orthanc's own DICOMweb", seqOrthanc));
    console.log(`${CLIENTS} parallel clients × ${PER_CLIENT}:`);
    console.log(`${line('gateway embedded archive', summarise(parGateway.latencies))}   ${parGateway.rps.toFixed(0).padStart(6)} req/s`);
    console.log(`${line("Orthanc's own DICOMweb", summarise(parOrthanc.latencies))}   ${parOrthanc.rps.toFixed(0).padStart(6)} req/s`);
    console.log(`\nGET /studies/{study}/metadata (${ct.length} instances), ${METADATA_RUNS} sequential:`);
    console.log(line('gateway embedded archive', metaGateway));
    console.log(line("Orthanc's own DICOMweb", metaOrthanc));
    console.log('\nTargets:');
    console.log(`  QIDO p50 gateway / Orthanc           = ${(seqGateway.p50 / seqOrthanc.p50).toFixed(2)}× (target ≤ 1: ${verdict(seqGateway.p50 <= seqOrthanc.p50)})`);
    console.log(`  metadata p50 Orthanc / gateway       = ${(metaOrthanc.p50 / metaGateway.p50).toFixed(2)}× faster (target ≥ 2×: ${verdict(metaOrthanc.p50 / metaGateway.p50 >= 2)})`);
    console.log(`  ingest gateway / Orthanc             = ${(seconds.orthanc / seconds.gateway).toFixed(2)}× (target ≥ 5×: ${verdict(seconds.orthanc / seconds.gateway >= 5)})`);
    console.log(`  ingest gateway / storescp            = ${(seconds.storescp / seconds.gateway).toFixed(2)}× (target ≥ 0.5×: ${verdict(seconds.storescp / seconds.gateway >= 0.5)})`);
    console.log(`  tuned: ingest gateway / Orthanc      = ${(tuned.orthanc / tuned.gateway).toFixed(2)}×, gateway / storescp = ${(tuned.storescp / tuned.gateway).toFixed(2)}×`);
    console.log(`  gateway peak RSS                     = ${rss.toFixed(1)} MB (target < 200 MB: ${verdict(rss < 200)})\n`);
  } finally {
    gateway.kill('SIGTERM');
    await new Promise((resolve) => gateway.once('exit', resolve));
    await storescp.stop();
    await orthanc.stop();
  }
}

/** The gateway as a process of its own (its peak RSS is read from /proc), serving a new archive under `work/name`. */
export async function startGatewayProcess(work: string, name: string): Promise<{ httpPort: number; dimsePort: number; process: ChildProcess }> {
  const httpPort = await freePort();
  const dimsePort = await freePort();
  const configFile = path.join(work, `${name}.yaml`);
  writeFileSync(configFile, `http: { host: 127.0.0.1, port: ${httpPort}, basePath: /dicomweb }
dimse: { aeTitle: DICOMWEB, host: 127.0.0.1, port: ${dimsePort}, minFreeBytes: 0 }
archive: { dir: ${path.join(work, name)} }
cache: { dir: ${path.join(work, `${name}-cache`)} }
auth: { mode: none }
limits: { clientRequests: 0, tenantRequests: 0 }   # measuring throughput, not admission control
log: { level: error }
`);
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '--config', configFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitForPort(httpPort);
  await waitForPort(dimsePort);
  return { httpPort, dimsePort, process: child };
}

/** The ingest again with every DCMTK process tuned (TCP_NODELAY=1): a new gateway archive, Orthanc and storescp. */
async function tunedIngest(ct: string[], work: string): Promise<{ gateway: number; orthanc: number; storescp: number }> {
  const gateway = await startGatewayProcess(work, 'archive-tuned');
  const orthanc = await startOrthanc({ loadFixtures: false, tuned: true });
  const storescp = await startStorescp(work, 'storescp-tuned', DCMTK_ENV);
  try {
    return await ingestIntoEach(ct, { gateway: gateway.dimsePort, orthanc, storescp: storescp.port }, DCMTK_ENV);
  } finally {
    gateway.process.kill('SIGTERM');
    await new Promise((resolve) => gateway.process.once('exit', resolve));
    await storescp.stop();
    await orthanc.stop();
  }
}

/** DCMTK storescp writing under `work/name` without any sync (the upper bound), listening. */
export async function startStorescp(work: string, name: string, env: NodeJS.ProcessEnv): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = path.join(work, name);
  mkdirSync(dir);
  const proc = startProcess('storescp', ['-aet', 'STORESCP', '-od', dir, String(port)], { env });
  await waitForPort(port);
  return { port, stop: () => proc.stop() };
}

/** The study into the gateway, Orthanc and storescp in turn; seconds each. */
async function ingestIntoEach(ct: string[], to: { gateway: number; orthanc: TestPacs; storescp: number }, env: NodeJS.ProcessEnv): Promise<{ gateway: number; orthanc: number; storescp: number }> {
  return {
    gateway: await ingest(to.gateway, 'DICOMWEB', ct, env),
    orthanc: await ingest(to.orthanc.port, to.orthanc.aeTitle, ct, env),
    storescp: await ingest(to.storescp, 'STORESCP', ct, env),
  };
}
