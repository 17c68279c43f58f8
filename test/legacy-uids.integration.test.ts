/**
 * UIDs with a leading-zero component (`1.2.07`): PS3.5 §9.1 forbids them, but archives filled before validation
 * was common hold them. In front of dcmqrscp holding such a study (its UIDs rewritten by DCMTK's dcmodify), the
 * study is found by QIDO-RS and then retrieved by WADO-RS through C-MOVE, each answer with a 299 Warning that the
 * UID does not conform; what cannot be a UID at all is still a 400. Also the media types WADO-RS does not answer
 * in: a bare `application/dicom` (a single part) is 406, not a multipart answer the client did not accept.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { tempDir } from '../devkit/temp.js';
import { startTestGateway } from './harness/gateway.js';
import { fetchMultipart } from './harness/multipart.js';
import { metaEnd } from './harness/variants.js';

const STUDY = '1.2.826.0.1.3680043.9.07.1';
const SERIES = `${STUDY}.01`;
const INSTANCE = `${SERIES}.001`;

describe('UIDs with leading zeros, in front of dcmqrscp', () => {
  let pacs: TestPacs;
  let gw: Awaited<ReturnType<typeof startTestGateway>>;
  let file: string;

  beforeAll(async () => {
    file = path.join(tempDir('legacy-uids'), 'legacy.dcm');
    copyFileSync(fixtureFiles().files[0] ?? '', file);
    await run('dcmodify', [
      '-nb',
      '-m',
      `(0020,000D)=${STUDY}`,
      '-m',
      `(0020,000E)=${SERIES}`,
      '-m',
      `(0008,0018)=${INSTANCE}`,
      file,
    ]);
    const dimsePort = await freePort();
    pacs = await startDcmqrscp({
      files: [file],
      moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
    });
    gw = await startTestGateway(pacs, { dimse: { port: dimsePort } });
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  it('finds the study by QIDO-RS', async () => {
    const r = await fetch(`${gw.base}/studies?StudyInstanceUID=${STUDY}`);
    expect(r.status).toBe(200);
    const [match] = (await r.json()) as Record<string, { Value?: unknown[] }>[];
    expect(match?.['0020000D']?.Value).toEqual([STUDY]);
  });

  it('retrieves it by WADO-RS (C-MOVE) with a Warning that the UIDs do not conform', async () => {
    const r = await fetchMultipart(`${gw.base}/studies/${STUDY}/series/${SERIES}/instances/${INSTANCE}`, {
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(r.status).toBe(200);
    const sent = readFileSync(file);
    const [part] = r.parts;
    expect(part?.body.subarray(metaEnd(part.body)).equals(sent.subarray(metaEnd(sent)))).toBe(true);
    const warning = r.headers.get('warning') ?? '';
    for (const uid of [STUDY, SERIES, INSTANCE])
      expect(warning).toContain(`${uid} has a component with a leading zero`);
    const metadata = await fetch(`${gw.base}/studies/${STUDY}/metadata`);
    expect(metadata.status).toBe(200);
    expect(metadata.headers.get('warning')).toContain(`StudyInstanceUID ${STUDY} has a component with a leading zero`);
    expect(((await metadata.json()) as unknown[]).length).toBe(1);
  });

  it('still refuses what cannot be a UID (400 naming it)', async () => {
    const r = await fetch(`${gw.base}/studies/1.2.x7/metadata`);
    expect([r.status, ((await r.json()) as { error: string }).error]).toEqual([400, 'DWG_BAD_UID']);
  });

  it('answers 406 to Accept: application/dicom alone (a single part is not offered), naming what is', async () => {
    const r = await fetch(`${gw.base}/studies/${STUDY}/series/${SERIES}/instances/${INSTANCE}`, {
      headers: { accept: 'application/dicom' },
    });
    expect(r.status).toBe(406);
    expect(((await r.json()) as { message: string }).message).toContain('multipart/related; type="application/dicom"');
  });
});
