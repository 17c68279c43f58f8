import { mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { startProcess, run, DCMTK_ENV, SHIPPED_ENV, type Started } from './processes.js';
import { fixtureFiles } from './fixtures.js';
import { tempDir } from './temp.js';

/** A real PACS started for a test file on loopback. */
export interface TestPacs {
  name: 'dcmqrscp' | 'orthanc';
  aeTitle: string;
  host: string;
  port: number;
  /** Orthanc only: its HTTP port (REST API and its own DICOMweb plugin under /dicom-web). */
  httpPort?: number;
  /** What the PACS process printed so far (dcmqrscp with `verbose` logs every request). */
  output(): string;
  stop(): Promise<void>;
}

export interface PacsOptions {
  /** Storage SCP the PACS may send C-MOVE sub-operations to. */
  moveDestination?: { aeTitle: string; host: string; port: number };
  /** More C-MOVE destinations (e.g. a DCMTK storescp baseline in benchmarks). */
  moreDestinations?: { aeTitle: string; host: string; port: number }[];
  /** Load the generated fixtures (default true). */
  loadFixtures?: boolean;
  /** Load these files instead of the generated fixtures (dcmqrscp indexes them, Orthanc takes them over REST). */
  files?: string[];
  /** The DICOM port to listen on (default: a free one), e.g. to bring a stopped PACS back where it was. */
  port?: number;
  /** dcmqrscp: log every request (to count C-MOVE/C-GET requests). */
  verbose?: boolean;
  /**
   * Start the PACS with TCP_NODELAY=1 (Nagle off), a tuning hospitals do not apply. Default: as shipped, so that
   * tests and benchmarks see the delayed-ACK stalls the gateway must avoid; benchmarks measure tuned as a second figure.
   */
  tuned?: boolean;
  /**
   * Orthanc: keep its storage and index in this directory, which stop() leaves in place, so that a restart (as
   * shipped, then tuned) serves what was loaded once. The caller removes it.
   */
  dataDir?: string;
  /** Orthanc: further configuration keys (e.g. `RleTransferSyntaxAccepted: false`). */
  orthanc?: Record<string, unknown>;
}

const peerEnv = (options: PacsOptions): NodeJS.ProcessEnv => (options.tuned ? DCMTK_ENV : SHIPPED_ENV);

/** DCMTK's query/retrieve SCP with the fixtures indexed by dcmqridx (no network load needed). */
export async function startDcmqrscp(options: PacsOptions = {}): Promise<TestPacs> {
  const dir = tempDir('dcmqrscp');
  const db = path.join(dir, 'db');
  mkdirSync(db);
  const port = options.port ?? (await freePort());
  const aeTitle = 'QRSCP';
  const destinations = [
    ...(options.moveDestination ? [options.moveDestination] : []),
    ...(options.moreDestinations ?? []),
  ];
  const hosts = destinations.map((d, i) => `dest${i} = (${d.aeTitle}, ${d.host}, ${d.port})\n`).join('');
  writeFileSync(
    path.join(dir, 'dcmqrscp.cfg'),
    `NetworkTCPPort = ${port}
MaxPDUSize = 65536
MaxAssociations = 32
HostTable BEGIN
${hosts}HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
${aeTitle} ${db} RW (500, 1024mb) ANY
AETable END
`,
  );
  const files = options.files ?? (options.loadFixtures !== false ? fixtureFiles().files : []);
  if (files.length) await run('dcmqridx', [db, ...files]);
  const proc = startProcess(
    'dcmqrscp',
    [...(options.verbose ? ['-v'] : []), '-c', path.join(dir, 'dcmqrscp.cfg'), String(port)],
    { env: peerEnv(options) },
  );
  await waitForPeer(proc, port, 'dcmqrscp');
  return {
    name: 'dcmqrscp',
    aeTitle,
    host: '127.0.0.1',
    port,
    output: proc.output,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Orthanc with its DICOMweb plugin, UTF-8 default encoding, fixtures uploaded over its REST API. */
export async function startOrthanc(options: PacsOptions = {}): Promise<TestPacs> {
  const dir = tempDir('orthanc');
  const port = options.port ?? (await freePort());
  const httpPort = await freePort();
  const aeTitle = 'ORTHANC';
  const modalities: Record<string, [string, string, number]> = {};
  for (const [i, d] of [
    ...(options.moveDestination ? [options.moveDestination] : []),
    ...(options.moreDestinations ?? []),
  ].entries())
    modalities[`dest${i}`] = [d.aeTitle, d.host, d.port];
  writeFileSync(
    path.join(dir, 'orthanc.json'),
    JSON.stringify({
      Name: 'dwg-test',
      StorageDirectory: path.join(options.dataDir ?? dir, 'storage'),
      IndexDirectory: path.join(options.dataDir ?? dir, 'index'),
      HttpPort: httpPort,
      DicomPort: port,
      DicomAet: aeTitle,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      DefaultEncoding: 'Utf8',
      DicomCheckCalledAet: true,
      // Orthanc 1.9+ refuses C-FIND/C-GET/C-MOVE from AE titles it does not know unless told otherwise.
      DicomAlwaysAllowFind: true,
      DicomAlwaysAllowGet: true,
      DicomAlwaysAllowMove: true,
      DicomModalities: modalities,
      Plugins: ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so'],
      DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, StudiesMetadata: 'Full' },
      ConcurrentJobs: 2,
      // Orthanc serves at most this many associations at once; more wait ~1 s each (its workers poll). Match pacs.maxAssociations.
      DicomThreadsCount: 8,
      HttpThreadsCount: 8,
      ...options.orthanc,
    }),
  );
  const proc = startProcess('Orthanc', [path.join(dir, 'orthanc.json')], { env: peerEnv(options) }); // DCMTK inside
  await waitForPeer(proc, port, 'Orthanc');
  await waitForPort(httpPort);
  if (options.loadFixtures !== false) {
    for (const file of options.files ?? fixtureFiles().files) {
      const res = await fetch(`http://127.0.0.1:${httpPort}/instances`, { method: 'POST', body: readFileSync(file) });
      if (!res.ok) throw new Error(`Orthanc refused ${file}: ${res.status} ${await res.text()}`);
    }
  }
  return {
    name: 'orthanc',
    aeTitle,
    host: '127.0.0.1',
    port,
    httpPort,
    output: proc.output,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPeer(proc: Started, port: number, what: string): Promise<void> {
  try {
    await Promise.race([
      waitForPort(port, 20_000),
      new Promise((_, reject) => proc.process.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)))),
    ]);
  } catch (err) {
    await proc.stop();
    throw new Error(`${what} did not start: ${(err as Error).message}\n${proc.output()}`);
  }
}

export const PACS_KINDS = { dcmqrscp: startDcmqrscp, orthanc: startOrthanc } as const;
