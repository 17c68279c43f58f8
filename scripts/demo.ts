/**
 * `npm run demo`: the gateway in front of an embedded demo PACS. Starts Orthanc (Debian package) on free
 * loopback ports, loads the generated fixtures into it, and serves DICOMweb at http://127.0.0.1:8080/dicomweb
 * (override with DICOMWEB_* variables). Ctrl-C stops both and removes what the demo put in the temp directory;
 * a start that fails (a port in use, a bad setting) says which key to change, in one line, and stops what it started.
 */
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { tempDir, cleanupTempDirs } from '../devkit/temp.js';
import { loadConfig, ConfigError } from '../src/config/load.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { generateImagingFixtures, IMAGING_STUDY } from '../src/samples/imaging.js';
import { readFileSync } from 'node:fs';

let pacs: TestPacs | undefined;
let gateway: Gateway | undefined;
let stopping = false;

/** Starts Orthanc and the gateway; a Ctrl-C meanwhile stops at the next step (whatever started is stopped). */
async function start(): Promise<void> {
  const base = loadConfig();
  pacs = await startOrthanc({
    moveDestination: { aeTitle: base.dimse.aeTitle, host: '127.0.0.1', port: base.dimse.port },
  });
  // The imaging fixtures too, so that rendered and thumbnail resources have images to show.
  for (const file of generateImagingFixtures(tempDir('demo-imaging')).values()) {
    if (stopping) return;
    await fetch(`http://127.0.0.1:${pacs.httpPort}/instances`, { method: 'POST', body: readFileSync(file) });
  }
  if (stopping) return;
  const config = {
    ...base,
    http: { ...base.http, host: process.env.DICOMWEB_HTTP_HOST ?? '127.0.0.1' },
    pacs: { ...base.pacs, aeTitle: pacs.aeTitle, host: pacs.host, port: pacs.port },
    // A local demo: no credentials unless DICOMWEB_AUTH_MODE says otherwise (and then keys must be configured).
    auth: {
      ...base.auth,
      mode: process.env.DICOMWEB_AUTH_MODE === 'required' ? ('required' as const) : ('none' as const),
    },
  };
  gateway = await startGateway(config);
  if (stopping) return;
  const url = `${gateway.httpUrl}${config.http.basePath}`;
  process.stdout.write(
    `\nDemo PACS: Orthanc ${pacs.aeTitle}@127.0.0.1:${pacs.port} (its own DICOMweb: http://127.0.0.1:${pacs.httpPort}/dicom-web)\nGateway:   ${url}\n\nTry:\n  curl '${url}/studies?PatientName=Doe*'\n  curl '${url}/studies?PatientID=PAT-JAPANESE'\n  curl -o study-thumbnail.jpg '${url}/studies/${IMAGING_STUDY.uid}/thumbnail'\n\n`,
  );
}

/** Stops whatever has started, removes the demo's temporary files; bounded so that Ctrl-C always ends it. */
async function shutdown(code: number, starting: Promise<void>): Promise<never> {
  stopping = true;
  const deadline = setTimeout(() => process.exit(code || 1), 10_000);
  deadline.unref();
  await starting.catch(() => {});
  await gateway?.close().catch(() => {});
  await pacs?.stop().catch(() => {});
  cleanupTempDirs();
  process.exit(code);
}

// Signal handlers first: a Ctrl-C during start-up must stop what has started, not kill the process under it.
let started: Promise<void> = Promise.resolve();
process.once('SIGINT', () => void shutdown(0, started));
process.once('SIGTERM', () => void shutdown(0, started));
started = start();
try {
  await started;
} catch (err) {
  process.stderr.write(`demo: ${err instanceof ConfigError ? err.message : (err as Error).message.split('\n')[0]}\n`);
  await shutdown(err instanceof ConfigError ? 2 : 1, Promise.resolve());
}
