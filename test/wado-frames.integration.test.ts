/**
 * Frames of a compressed multi-frame instance: the stored bitstream as DCMTK's encoder made it, located through
 * the Basic Offset Table, served for transfer-syntax=* and image/jls; a lossy type the gateway will not make is 406.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { fetchMultipart } from './harness/multipart.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { allInstances, type FixtureInstance } from '../src/samples/catalog.js';
import { tempDir } from '../devkit/temp.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

describe('frames of a JPEG-LS multi-frame instance (through Orthanc)', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  const dir = tempDir('jls');
  const cine = [...allInstances()].find((i) => i.series.frames) as FixtureInstance;
  const base = (): string => `${gw.base}/studies/${cine.study.uid}/series/${cine.series.uid}/instances/${cine.uid}`;

  beforeAll(async () => {
    const source = fixtureFiles().files[[...allInstances()].findIndex((i) => i.uid === cine.uid)] as string;
    await run('dcmcjpls', ['+el', source, path.join(dir, 'jls.dcm')]);
    await run('dcmdump', ['+W', dir, path.join(dir, 'jls.dcm')]); // item 0: offset table; 1..n: one fragment per frame
    const dimsePort = await freePort();
    pacs = await startOrthanc({
      loadFixtures: false,
      moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
    });
    const upload = await fetch(`http://127.0.0.1:${pacs.httpPort}/instances`, {
      method: 'POST',
      body: readFileSync(path.join(dir, 'jls.dcm')),
    });
    expect(upload.ok).toBe(true);
    gw = await startTestGateway(pacs, { dimse: { port: dimsePort } });
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  it('serves the stored JPEG-LS bitstream of the frames asked for, equal to the fragments DCMTK wrote', async () => {
    const r = await fetchMultipart(`${base()}/frames/2,4`, {
      headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' },
    });
    expect(r.status).toBe(200);
    expect(r.parts.map((p) => p.headers['content-type'])).toEqual(
      Array(2).fill('application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.80'),
    );
    expect(r.parts[0]?.body.equals(readFileSync(path.join(dir, 'jls.dcm.2.raw')))).toBe(true);
    expect(r.parts[1]?.body.equals(readFileSync(path.join(dir, 'jls.dcm.4.raw')))).toBe(true);
    const jls = await fetchMultipart(`${base()}/frames/1`, {
      headers: { accept: 'multipart/related; type="image/jls"' },
    });
    expect(jls.parts[0]?.headers['content-type']).toBe('image/jls; transfer-syntax=1.2.840.10008.1.2.4.80');
    expect(jls.parts[0]?.body.equals(readFileSync(path.join(dir, 'jls.dcm.1.raw')))).toBe(true);
  });

  it('sends frames with Content-Length (their size is known before the first byte), instances chunked as they stream', async () => {
    const { request } = await import('node:http');
    const headersOf = (
      url: string,
      accept: string,
    ): Promise<{ headers: Record<string, string | string[] | undefined>; bytes: number }> =>
      new Promise((resolve, reject) => {
        request(url, { headers: { accept } }, (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
          });
          res.on('end', () => resolve({ headers: res.headers, bytes }));
        })
          .on('error', reject)
          .end();
      });
    const frames = await headersOf(
      `${base()}/frames/1,3`,
      'multipart/related; type="application/octet-stream"; transfer-syntax=*',
    );
    expect(frames.headers['transfer-encoding']).toBeUndefined();
    expect(Number(frames.headers['content-length'])).toBe(frames.bytes);
    // Instances are streamed from their files (or as the PACS sends them): chunked, never read whole to be sized.
    const streamed = await headersOf(base(), 'multipart/related; type="application/dicom"; transfer-syntax=*');
    expect([streamed.headers['transfer-encoding'], streamed.headers['content-length']]).toEqual(['chunked', undefined]);
    expect(streamed.bytes).toBeGreaterThan(1000);
  });

  it('answers 406 for frames in a lossy type it would have to make, naming what it can serve', async () => {
    const r = await fetch(`${base()}/frames/1`, { headers: { accept: 'multipart/related; type="image/jpeg"' } });
    expect(r.status).toBe(406);
    expect(((await r.json()) as { message: string }).message).toMatch(/transfer-syntax=\*.*image\/jls/);
  });

  it('serves the instance as stored for transfer-syntax=*', async () => {
    const r = await fetchMultipart(base(), {
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(r.parts[0]?.headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.4.80');
  });
});
