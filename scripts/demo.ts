/**
 * `npm run demo`: the gateway in front of an embedded demo PACS. Starts Orthanc (Debian package) on free
 * loopback ports, loads the generated fixtures into it, and serves DICOMweb at http://127.0.0.1:8080/dicomweb
 * (override with DICOMWEB_* variables). Ctrl-C stops both.
 */
import { startOrthanc } from '../test/harness/pacs.js';
import { loadConfig } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { generateImagingFixtures, IMAGING_STUDY } from '../fixtures/imaging.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const base = loadConfig();
const pacs = await startOrthanc({ moveDestination: { aeTitle: base.dimse.aeTitle, host: '127.0.0.1', port: base.dimse.port } });
// The imaging fixtures too, so that rendered and thumbnail resources have images to show.
for (const file of generateImagingFixtures(mkdtempSync(path.join(os.tmpdir(), 'dwg-demo-imaging-'))).values()) {
  await fetch(`http://127.0.0.1:${pacs.httpPort}/instances`, { method: 'POST', body: readFileSync(file) });
}
const config = {
  ...base,
  http: { ...base.http, host: process.env.DICOMWEB_HTTP_HOST ?? '127.0.0.1' },
  pacs: { ...base.pacs, aeTitle: pacs.aeTitle, host: pacs.host, port: pacs.port },
  // A local demo: no credentials unless DICOMWEB_AUTH_MODE says otherwise (and then keys must be configured).
  auth: { ...base.auth, mode: process.env.DICOMWEB_AUTH_MODE === 'required' ? 'required' as const : 'none' as const },
};
const gateway = await startGateway(config);
const url = `${gateway.httpUrl}${config.http.basePath}`;
process.stdout.write(`\nDemo PACS: Orthanc ${pacs.aeTitle}@127.0.0.1:${pacs.port} (its own DICOMweb: http://127.0.0.1:${pacs.httpPort}/dicom-web)\nGateway:   ${url}\n\nTry:\n  curl '${url}/studies?PatientName=Doe*'\n  curl '${url}/studies?PatientID=PAT-JAPANESE'\n  curl -o study-thumbnail.jpg '${url}/studies/${IMAGING_STUDY.uid}/thumbnail'\n\n`);
const stop = async (): Promise<void> => {
  await gateway.close();
  await pacs.stop();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
