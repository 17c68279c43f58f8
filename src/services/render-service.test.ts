import { describe, it, expect, afterEach } from 'vitest';
import sharp from 'sharp';
import { FakeArchive, appOver } from '../../test/harness/fake-archive.js';
import { imagingFixtureFiles, fixture } from '../../test/harness/imaging.js';
import { IMAGING_STUDY } from '../samples/imaging.js';
import { boundaryOf, parseMultipart } from '../../test/harness/multipart.js';

/**
 * Rendered and thumbnail resources through the HTTP app over a fake archive: which instance the service picks
 * from the archive's catalog, what it answers, and that it lets every instance go. (Pixels are compared with
 * DCMTK in test/rendered.integration.test.ts.)
 */
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function served(keys?: string[]) {
  const files = imagingFixtureFiles();
  const chosen = keys ? keys.map((k) => files.get(fixture(k)) as string) : [...files.values()];
  const archive = new FakeArchive({ files: chosen });
  const built = appOver(archive);
  closers.push(built.close);
  return { app: built.app, archive };
}

describe('RenderService over an archive', () => {
  it('makes a series thumbnail of its middle image, fitted in the configured size', async () => {
    const { app, archive } = served();
    const series = fixture('palette-8').seriesUid; // palette-8, palette-16, palette-segmented: the middle one is palette-16
    const res = await app.inject({
      method: 'GET',
      url: `/dicomweb/studies/${IMAGING_STUDY.uid}/series/${series}/thumbnail`,
      headers: { accept: 'image/png' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    const meta = await sharp(res.rawPayload).metadata();
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBe(64);
    expect(archive.opened.at(-1)).toEqual({ study: IMAGING_STUDY.uid, series, instance: fixture('palette-16').uid });
    expect(archive.openHolds).toBe(0);
  });

  it('serves an Encapsulated PDF as application/pdf and a structured report as HTML', async () => {
    const { app, archive } = served(['pdf', 'sr-basic']);
    const pdf = fixture('pdf');
    const doc = await app.inject({
      method: 'GET',
      url: `/dicomweb/studies/${IMAGING_STUDY.uid}/series/${pdf.seriesUid}/instances/${pdf.uid}/rendered`,
      headers: { accept: 'application/pdf' },
    });
    expect(doc.statusCode).toBe(200);
    expect(doc.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const sr = fixture('sr-basic');
    const html = await app.inject({
      method: 'GET',
      url: `/dicomweb/studies/${IMAGING_STUDY.uid}/series/${sr.seriesUid}/instances/${sr.uid}/rendered`,
      headers: { accept: 'text/html' },
    });
    expect(html.statusCode).toBe(200);
    expect(html.body).toMatch(/<html/i);
    expect(archive.openHolds).toBe(0);
  });

  it('renders every frame of a study as parts, leaving out what is not an image with 206', async () => {
    const { app, archive } = served(['ct-signed', 'sr-basic']);
    const res = await app.inject({
      method: 'GET',
      url: `/dicomweb/studies/${IMAGING_STUDY.uid}/rendered`,
      headers: { accept: 'multipart/related; type="image/jpeg"' },
    });
    expect(res.statusCode).toBe(206);
    expect([res.headers.warning].flat().join()).toMatch(/not images|left out/);
    const parts = parseMultipart(res.rawPayload, boundaryOf(res.headers['content-type'] as string));
    expect(parts.map((p) => p.headers['content-type'])).toEqual(['image/jpeg']);
    expect((await sharp(parts[0]?.body).metadata()).format).toBe('jpeg');
    expect(archive.openHolds).toBe(0);
  });
});
