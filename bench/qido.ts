/**
 * QIDO benchmark (issue 3 §5, issue 10 item 9): against Orthanc loaded with the fixtures — first as shipped (Nagle
 * on, as hospitals run it), then tuned with TCP_NODELAY=1 as a second figure — the same study search
 *   (a) through the gateway (a separate process, so its peak RSS can be read),
 *   (b) on Orthanc's own DICOMweb plugin,
 *   (c) as a raw C-FIND on an open association (our DIMSE client, same identifier the gateway sends).
 * 200 sequential requests each, then 8 parallel clients. Prints p50/p95, ratios, requests/s, gateway peak RSS.
 */
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startOrthanc } from '../devkit/pacs.js';
import { freePort, waitForPort } from '../devkit/ports.js';
import { Association } from '../src/dimse-bridge/association.js';
import { DimseClient } from '../src/dimse-bridge/dimse-client.js';
import { SopClass } from '../src/dimse-bridge/sop-classes.js';
import { IMPLEMENTATION } from '../src/dicom/uid.js';
import { UNCOMPRESSED_TRANSFER_SYNTAXES } from '../src/dicom/transfer-syntax.js';
import { buildIdentifier } from '../src/backends/dimse/find.js';
import { DEFAULT_RETURN_KEYS } from '../src/dicom/query-attributes.js';
import { Tags } from '../src/dicom/tag.js';
import { get, sequential, parallel, summarise, fmt, peakRssMb } from './stats.js';

const SEQUENTIAL = 200;
const CLIENTS = 8;
const PER_CLIENT = 100;
const QUERY = 'PatientName=Doe*';


export async function runQidoBench(): Promise<void> {
  await measure(false);
  await measure(true);
}

async function measure(tuned: boolean): Promise<void> {
  const pacs = await startOrthanc({ tuned });
  const httpPort = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dwg-bench-'));
  const configFile = path.join(dir, 'gateway.yaml');
  writeFileSync(configFile, `http: { host: 127.0.0.1, port: ${httpPort}, basePath: /dicomweb }
dimse: { aeTitle: DICOMWEB, host: 127.0.0.1, port: ${await freePort()} }
pacs: { aeTitle: ${pacs.aeTitle}, host: 127.0.0.1, port: ${pacs.port}, maxAssociations: 8 }
cache: { dir: ${path.join(dir, 'cache')} }
auth: { mode: none }
limits: { clientRequests: 0, tenantRequests: 0 }   # measuring throughput, not admission control
log: { level: warn }
`);
  const gateway = spawn(process.execPath, ['dist/cli.js', 'serve', '--config', configFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    await waitForPort(httpPort);
    const gatewayUrl = `http://127.0.0.1:${httpPort}/dicomweb/studies?${QUERY}`;
    const orthancUrl = `http://127.0.0.1:${pacs.httpPort}/dicom-web/studies?${QUERY}`;
    const check = [await get(gatewayUrl), await get(orthancUrl)];
    if (check.some((c) => c.status !== 200)) throw new Error(`warm-up failed: ${JSON.stringify(check)}`);

    const association = await Association.request({
      host: '127.0.0.1', port: pacs.port, calledAeTitle: pacs.aeTitle, callingAeTitle: 'DWGBENCH',
      presentationContexts: [{ abstractSyntax: SopClass.StudyRootFind, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] }],
      implementation: IMPLEMENTATION, maxPduLength: 262144, timeouts: { connectMs: 5000, artimMs: 5000 },
    });
    const client = new DimseClient(association, { responseTimeoutMs: 30_000 });
    const identifier = buildIdentifier('STUDY', { matches: [{ path: [Tags.PatientName], vr: 'PN', value: 'Doe*' }], returns: DEFAULT_RETURN_KEYS.STUDY.map((t) => [t]) }, {});
    const rawFind = async (): Promise<number> => { let n = 0; for await (const _ of client.find(SopClass.StudyRootFind, identifier)) n++; return n; };
    if ((await rawFind()) !== 2) throw new Error('raw C-FIND did not find the 2 fixture studies of Doe');

    const seqRaw = summarise(await sequential(SEQUENTIAL, rawFind));
    const seqGateway = summarise(await sequential(SEQUENTIAL, () => get(gatewayUrl)));
    const seqOrthanc = summarise(await sequential(SEQUENTIAL, () => get(orthancUrl)));
    const parGateway = await parallel(CLIENTS, PER_CLIENT, () => get(gatewayUrl));
    const parOrthanc = await parallel(CLIENTS, PER_CLIENT, () => get(orthancUrl));
    await association.release();
    const rss = peakRssMb(gateway.pid as number);

    const line = (name: string, s: { p50: number; p95: number }): string => `  ${name.padEnd(34)} p50 ${fmt(s.p50).padStart(10)}   p95 ${fmt(s.p95).padStart(10)}`;
    const p = summarise(parGateway.latencies);
    if (process.env.DWG_BENCH_DEBUG) console.log('slowest gateway requests (ms):', [...parGateway.latencies].sort((a, b) => b - a).slice(0, 12).map((x) => x.toFixed(0)).join(' '));
    const q = summarise(parOrthanc.latencies);
    console.log(`\nQIDO benchmark — GET /studies?${QUERY} (2 matches), Orthanc ${pacs.aeTitle} ${tuned ? 'tuned (TCP_NODELAY=1)' : 'as shipped (Nagle on)'} with the fixtures, ${os.cpus().length} cores`);
    console.log(`\n${SEQUENTIAL} sequential requests:`);
    console.log(line('raw C-FIND (open association)', seqRaw));
    console.log(line('gateway QIDO-RS', seqGateway));
    console.log(line("Orthanc's own DICOMweb", seqOrthanc));
    console.log(`\n${CLIENTS} parallel clients × ${PER_CLIENT} requests:`);
    console.log(`${line('gateway QIDO-RS', p)}   ${parGateway.rps.toFixed(0).padStart(6)} req/s`);
    console.log(`${line("Orthanc's own DICOMweb", q)}   ${parOrthanc.rps.toFixed(0).padStart(6)} req/s`);
    console.log('\nTargets:');
    const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
    console.log(`  gateway p50 − raw C-FIND p50      = ${fmt(seqGateway.p50 - seqRaw.p50)} (target ≤ 2 ms: ${verdict(seqGateway.p50 - seqRaw.p50 <= 2)})`);
    console.log(`  gateway p50 / Orthanc DICOMweb p50 = ${(seqGateway.p50 / seqOrthanc.p50).toFixed(2)}× (target ≤ 1.3×: ${verdict(seqGateway.p50 / seqOrthanc.p50 <= 1.3)})`);
    console.log(`  throughput gateway / Orthanc (8 clients) = ${(parGateway.rps / parOrthanc.rps).toFixed(2)}× (target ≥ 0.7×: ${verdict(parGateway.rps / parOrthanc.rps >= 0.7)})`);
    console.log(`  gateway peak RSS                   = ${rss.toFixed(1)} MB (target < 150 MB: ${verdict(rss < 150)})\n`);
  } finally {
    gateway.kill('SIGTERM');
    await pacs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
