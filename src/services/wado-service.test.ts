import { ArchiveError } from '../archive/archive-error.js';
import { describe, it, expect, afterEach } from 'vitest';
import { readFileSync } from 'node:fs';
import { FakeArchive, appOver } from '../../test/harness/fake-archive.js';
import { imagingFixtureFiles, fixture } from '../../test/harness/imaging.js';
import { boundaryOf, parseMultipart } from '../../test/harness/multipart.js';
import { IMAGING_STUDY } from '../samples/imaging.js';

/**
 * WADO-RS through the HTTP app over a fake archive that counts the instances it hands out: each answer is checked,
 * and so is that every hold ended once the response did — on success, on error, for HEAD.
 */
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function served() {
  const files = imagingFixtureFiles();
  const archive = new FakeArchive({ files: [...files.values()] });
  const built = appOver(archive);
  closers.push(built.close);
  const pathOf = (key: string): string => {
    const f = fixture(key);
    return `/dicomweb/studies/${IMAGING_STUDY.uid}/series/${f.seriesUid}/instances/${f.uid}`;
  };
  return { app: built.app, archive, files, pathOf };
}

describe('WadoService over an archive', () => {
  it('serves an instance as stored, byte for byte, and lets it go', async () => {
    const { app, archive, files, pathOf } = served();
    const res = await app.inject({
      method: 'GET',
      url: pathOf('ct-signed'),
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(res.statusCode).toBe(200);
    const parts = parseMultipart(res.rawPayload, boundaryOf(res.headers['content-type'] as string));
    expect(parts).toHaveLength(1);
    expect(parts[0]?.headers['content-location']).toMatch(new RegExp(`${fixture('ct-signed').uid}$`));
    expect(parts[0]?.body.equals(readFileSync(files.get(fixture('ct-signed')) as string))).toBe(true);
    expect(archive.openHolds).toBe(0);
  });

  it('answers metadata with a BulkDataURI for Pixel Data', async () => {
    const { app, archive, pathOf } = served();
    const res = await app.inject({ method: 'GET', url: `${pathOf('mr-12bit')}/metadata` });
    expect(res.statusCode).toBe(200);
    const [json] = res.json() as Record<string, { Value?: unknown[]; BulkDataURI?: string }>[];
    expect(json?.['00080018']?.Value).toEqual([fixture('mr-12bit').uid]);
    expect(json?.['7FE00010']?.BulkDataURI).toMatch(/\/bulkdata\/7FE00010$/);
    expect(archive.openHolds).toBe(0);
  });

  it('serves frames of a multi-frame instance as native samples, one part per frame asked', async () => {
    const { app, archive, pathOf } = served();
    const res = await app.inject({
      method: 'GET',
      url: `${pathOf('multiframe')}/frames/2,5`,
      headers: { accept: 'multipart/related; type="application/octet-stream"' },
    });
    expect(res.statusCode).toBe(200);
    const parts = parseMultipart(res.rawPayload, boundaryOf(res.headers['content-type'] as string));
    expect(parts.map((p) => p.body.length)).toEqual([128 * 128 * 2, 128 * 128 * 2]);
    expect(parts[1]?.headers['content-location']).toMatch(/\/frames\/5$/);
    expect(archive.openHolds).toBe(0);
  });

  it('answers a byte range of bulk data with 206 and exactly those bytes', async () => {
    const { app, archive, pathOf } = served();
    const whole = await app.inject({
      method: 'GET',
      url: `${pathOf('sc-8bit-odd')}/bulkdata/7FE00010`,
      headers: { accept: 'application/octet-stream' },
    });
    expect(whole.statusCode).toBe(200);
    const size = 255 * 101 + 1; // an odd-length value is padded to even length (PS3.5 §7.1.1)
    expect(whole.rawPayload.length).toBe(size);
    const part = await app.inject({
      method: 'GET',
      url: `${pathOf('sc-8bit-odd')}/bulkdata/7FE00010`,
      headers: { range: 'bytes=100-199' },
    });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${size}`);
    expect(part.rawPayload.equals(whole.rawPayload.subarray(100, 200))).toBe(true);
    const beyond = await app.inject({
      method: 'GET',
      url: `${pathOf('sc-8bit-odd')}/bulkdata/7FE00010`,
      headers: { range: `bytes=${size}-` },
    });
    expect(beyond.statusCode).toBe(416);
    expect(archive.openHolds).toBe(0);
  });

  it('lets every instance go when a request fails after opening it, or is a HEAD', async () => {
    const { app, archive, pathOf } = served();
    const missingFrame = await app.inject({ method: 'GET', url: `${pathOf('multiframe')}/frames/99` });
    expect(missingFrame.statusCode).toBe(404);
    expect(missingFrame.json()).toMatchObject({ error: 'DWG_NOT_FOUND' });
    const noPixels = await app.inject({ method: 'GET', url: `${pathOf('sr-basic')}/frames/1` });
    expect(noPixels.statusCode).toBe(404);
    const head = await app.inject({
      method: 'HEAD',
      url: `/dicomweb/studies/${IMAGING_STUDY.uid}`,
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    expect(head.statusCode).toBe(200);
    expect(head.rawPayload.length).toBe(0);
    const pixels = await app.inject({ method: 'HEAD', url: `/dicomweb/studies/${IMAGING_STUDY.uid}/pixeldata` });
    expect(pixels.statusCode).toBe(200);
    expect(archive.openHolds).toBe(0);
  });

  it("passes the archive's 404 and its failures through as JSON", async () => {
    const { app } = served();
    const unknown = await app.inject({ method: 'GET', url: '/dicomweb/studies/1.2.3.999/metadata' });
    expect(unknown.statusCode).toBe(404);
    const down = appOver(
      new FakeArchive({ failure: new ArchiveError('timeout', 'C-MOVE', { phase: 'retrieve' }, 'PACS TEST') }),
    );
    closers.push(down.close);
    const timedOut = await down.app.inject({ method: 'GET', url: '/dicomweb/studies/1.2.3/metadata' });
    expect(timedOut.statusCode).toBe(504);
    expect(timedOut.json()).toMatchObject({
      error: 'DWG_PACS_TIMEOUT',
      message: 'PACS TEST did not answer in time: C-MOVE',
      phase: 'retrieve',
    });
  });
});
