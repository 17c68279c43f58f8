/**
 * Rendered and thumbnail resources (PS3.18 §10.4.1.1.3, §8.3.5) through Orthanc loaded with the imaging fixtures,
 * and from the embedded archive they were sent to by storescu (the same suite):
 * every image fixture rendered through the HTTP API and compared with DCMTK's dcmj2pnm rendering of the same
 * frame with the same window; each parameter, media type and status.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../devkit/processes.js';
import { Dataset } from '../src/dicom/dataset.js';
import { writeDataset } from '../src/dicom/dataset-codec.js';
import { encodeFileMetaHeader, encodePart10File } from '../src/dicom/part10.js';
import { tag, Tags } from '../src/dicom/tag.js';
import { IMPLEMENTATION, uidFromLabel } from '../src/dicom/uid.js';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { startFederation, type Federation } from './harness/federation.js';
import { startTestGateway, gatewayOnEmbeddedArchive } from './harness/gateway.js';
import { freePort } from '../devkit/ports.js';
import { fetchMultipart } from './harness/multipart.js';
import { psnr, maxDifference } from './harness/pnm.js';
import { imagingFixtureFiles, fixture, referenceRender, decodeImage } from './harness/imaging.js';
import { IMAGING_FIXTURES, IMAGING_STUDY, PDF_DOCUMENT, type ImagingFixture } from '../src/samples/imaging.js';
import { tempDir } from '../devkit/temp.js';

type Gateway = Pick<Awaited<ReturnType<typeof startTestGateway>>, 'base' | 'render' | 'close'>;

/** Lossless output (PNG) against DCMTK: the pipelines may differ by rounding, never by more. */
const LOSSLESS_PSNR = 45;

const SOURCES = {
  orthanc: 'through Orthanc',
  embedded: 'from the embedded archive',
  federation: 'through Orthanc and dcmqrscp, both holding the study, behind one tenant',
} as const;

for (const backend of Object.keys(SOURCES) as (keyof typeof SOURCES)[]) {
  describe(`rendered resources (${SOURCES[backend]})`, () => {
    let pacs: TestPacs | undefined;
    let federation: Federation | undefined;
    let gw: Gateway;
    const files = imagingFixtureFiles();
    const url = (f: ImagingFixture, suffix = ''): string =>
      `${gw.base}/studies/${IMAGING_STUDY.uid}/series/${f.seriesUid}/instances/${f.uid}${suffix}`;
    const get = async (
      u: string,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; type: string; body: Buffer; headers: Headers }> => {
      const r = await fetch(u, { headers });
      return {
        status: r.status,
        type: r.headers.get('content-type') ?? '',
        body: Buffer.from(await r.arrayBuffer()),
        headers: r.headers,
      };
    };

    beforeAll(async () => {
      if (backend === 'embedded') {
        // The phantoms sent by storescu as a modality would: the gateway is the archive.
        gw = await gatewayOnEmbeddedArchive([...files.values()]);
        return;
      }
      if (backend === 'federation') {
        // Both PACS hold the phantoms: found once, catalogued and retrieved from the better one (Orthanc, which
        // keeps the SOP classes that decide what renders; dcmqrscp's C-FIND does not return them).
        federation = await startFederation({
          files: { orthanc: [...files.values()], dcmqrscp: [...files.values()], local: [] },
        });
        gw = { ...federation.gw, close: async () => {} };
        return;
      }
      const dimsePort = await freePort();
      pacs = await startOrthanc({
        loadFixtures: false,
        moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
      });
      for (const file of files.values()) {
        const r = await fetch(`http://127.0.0.1:${pacs.httpPort}/instances`, {
          method: 'POST',
          body: readFileSync(file),
        });
        expect(r.ok).toBe(true);
      }
      gw = await startTestGateway(pacs, { dimse: { port: dimsePort } });
    });
    afterAll(async () => {
      await gw?.close();
      await pacs?.stop();
      await federation?.stop();
    });

    const images = IMAGING_FIXTURES.filter((f) => f.kind === 'image');
    const cases = images.flatMap((f) =>
      (f.frames > 1 ? [1, Math.ceil(f.frames / 2), f.frames] : [1]).map((n) => [f.key, n] as const),
    );

    it.each(cases)('%s frame %i as PNG equals DCMTK dcmj2pnm (PSNR ≥ 45 dB)', async (key, n) => {
      const f = fixture(key);
      const r = await get(url(f, `/frames/${n}/rendered?accept=image/png`));
      expect(r.status).toBe(200);
      expect(r.type).toBe('image/png');
      const ours = await decodeImage(r.body);
      const reference = await referenceRender(f, files.get(f) as string, n);
      expect({ width: ours.width, height: ours.height, channels: ours.channels }).toEqual({
        width: reference.width,
        height: reference.height,
        channels: reference.channels,
      });
      expect(psnr(ours, reference)).toBeGreaterThanOrEqual(LOSSLESS_PSNR);
    });

    it('renders JPEG by default, within a stated tolerance of DCMTK (PSNR ≥ 30 dB at quality 90)', async () => {
      const f = fixture('ct-signed');
      const r = await get(url(f, '/rendered'));
      expect(r.type).toBe('image/jpeg');
      expect(
        psnr(await decodeImage(r.body), await referenceRender(f, files.get(f) as string, 1)),
      ).toBeGreaterThanOrEqual(30);
    });

    it('renders PNG losslessly: the PNG holds exactly the 8-bit pipeline output the GIF (grayscale palette) holds', async () => {
      const f = fixture('mr-12bit');
      const png = await decodeImage((await get(url(f, '/rendered?accept=image/png'))).body);
      const gif = await decodeImage((await get(url(f, '/rendered?accept=image/gif'))).body);
      expect(
        maxDifference(png, {
          ...gif,
          channels: 1,
          data: gif.channels === 3 ? Buffer.from(gif.data.filter((_, i) => i % 3 === 0)) : gif.data,
        }),
      ).toBe(0);
    });

    describe('window', () => {
      const f = fixture('ct-signed');
      it.each([
        ['-600,1500', ['+Ww', '-600', '1500']],
        ['300,1200,linear', ['+Ww', '300', '1200']],
        ['40,400,linear-exact', ['+Ww', '40.5', '401']], // LINEAR_EXACT c,w is LINEAR c+0.5,w+1 (PS3.3 C.11.2.1.3.2)
        ['40,400,sigmoid', ['+Wfs', '+Ww', '40', '400']],
      ])('window=%s equals DCMTK with the same window', async (window, args) => {
        const r = await get(url(f, `/rendered?accept=image/png&window=${window}`));
        expect(r.status).toBe(200);
        expect(
          psnr(await decodeImage(r.body), await referenceRender(f, files.get(f) as string, 1, args)),
        ).toBeGreaterThanOrEqual(LOSSLESS_PSNR);
      });
      it.each([['40'], ['a,400'], ['40,0'], ['40,400,gamma'], ['40,400,linear,x']])(
        'window=%s → 400 naming the parameter',
        async (window) => {
          const r = await get(url(f, `/rendered?window=${window}`));
          expect(r.status).toBe(400);
          expect(JSON.parse(r.body.toString())).toMatchObject({
            error: 'DWG_BAD_PARAMETER',
            message: expect.stringContaining('"window"'),
          });
        },
      );
    });

    describe('viewport', () => {
      const f = fixture('cr-mono1'); // 200 wide, 240 high
      it('scales into exactly vw×vh, aspect kept, black padding', async () => {
        const img = await decodeImage((await get(url(f, '/rendered?accept=image/png&viewport=300,120'))).body);
        expect([img.width, img.height]).toEqual([300, 120]);
        // 200×240 into 300×120: 100×120 in the middle, 100 black columns each side.
        for (const x of [0, 99, 200, 299]) expect(img.data[60 * 300 + x]).toBe(0);
        expect(img.data[60 * 300 + 150]).not.toBe(0);
      });
      it('crops a source region, and flips it for a negative width', async () => {
        const reference = await referenceRender(f, files.get(f) as string, 1);
        const region = await decodeImage(
          (await get(url(f, '/rendered?accept=image/png&viewport=50,60,20,30,50,60'))).body,
        );
        const flipped = await decodeImage(
          (await get(url(f, '/rendered?accept=image/png&viewport=50,60,70,30,-50,60'))).body,
        );
        let same = 0;
        let mirrored = 0;
        for (let y = 0; y < 60; y++) {
          for (let x = 0; x < 50; x++) {
            const ref = reference.data[(30 + y) * 200 + 20 + x] as number;
            if (Math.abs((region.data[y * 50 + x] as number) - ref) <= 1) same++;
            if (Math.abs((flipped.data[y * 50 + (49 - x)] as number) - ref) <= 1) mirrored++;
          }
        }
        expect(same).toBe(50 * 60);
        expect(mirrored).toBe(50 * 60);
      });
      it.each([['0,100'], ['100'], ['100,100,1,2,3'], ['100,100,0,0,0,10'], ['9000,10'], ['100,100,500,0,10,10']])(
        'viewport=%s → 400',
        async (viewport) => {
          const r = await get(url(f, `/rendered?viewport=${viewport}`));
          expect(r.status).toBe(400);
          expect(JSON.parse(r.body.toString()).message).toContain('"viewport"');
        },
      );
    });

    describe('quality, annotation, iccprofile', () => {
      const f = fixture('mr-12bit');
      it('quality changes the JPEG; out of range → 400', async () => {
        const low = await get(url(f, '/rendered?quality=10'));
        const high = await get(url(f, '/rendered?quality=95'));
        expect(low.body.length).toBeLessThan(high.body.length);
        expect((await get(url(f, '/rendered?quality=0'))).status).toBe(400);
        expect((await get(url(f, '/rendered?quality=abc'))).status).toBe(400);
      });
      it('burns in patient and technique text; unknown keywords are listed in a Warning', async () => {
        const plain = await decodeImage((await get(url(f, '/rendered?accept=image/png'))).body);
        const r = await get(url(f, '/rendered?accept=image/png&annotation=patient,technique,ruler'), {
          'accept-language': 'de-DE',
        });
        const annotated = await decodeImage(r.body);
        expect(r.headers.get('warning')).toMatch(/^299 .*ruler/);
        const changed = (y0: number, y1: number): number => {
          let n = 0;
          for (let y = y0; y < y1; y++)
            for (let x = 0; x < 120; x++) if (plain.data[y * 256 + x] !== annotated.data[y * 256 + x]) n++;
          return n;
        };
        expect(changed(0, 40)).toBeGreaterThan(100); // patient block, top left
        expect(changed(216, 256)).toBeGreaterThan(100); // technique block, bottom left
        expect(changed(110, 150)).toBe(0); // the middle is untouched
      });
      it('embeds an sRGB ICC profile when asked', async () => {
        const withProfile = await get(url(fixture('rgb-planar0'), '/rendered?accept=image/png&iccprofile=srgb'));
        const without = await get(url(fixture('rgb-planar0'), '/rendered?accept=image/png'));
        expect(withProfile.body.includes(Buffer.from('iCCP'))).toBe(true);
        expect(without.body.includes(Buffer.from('iCCP'))).toBe(false);
        expect((await get(url(f, '/rendered?iccprofile=adobergb'))).status).toBe(400);
      });
    });

    describe('media types and multi-frame', () => {
      const mf = fixture('multiframe');
      it('answers 406 when no rendered type is acceptable', async () => {
        const r = await get(url(mf, '/frames/1/rendered'), { accept: 'application/dicom' });
        expect(r.status).toBe(406);
        expect((await get(url(mf, '/frames/1/rendered?accept=image/webp'))).status).toBe(406);
      });
      it('honours q-values and the accept query parameter over the header', async () => {
        expect((await get(url(mf, '/frames/1/rendered'), { accept: 'image/jpeg;q=0.5, image/png' })).type).toBe(
          'image/png',
        );
        expect((await get(url(mf, '/frames/1/rendered?accept=image/gif'), { accept: 'image/png' })).type).toBe(
          'image/gif',
        );
      });
      it('sends one part per frame, frames sorted ascending, when multipart is accepted', async () => {
        const r = await fetchMultipart(url(mf, '/frames/5,2,3/rendered'), {
          headers: { accept: 'multipart/related; type="image/png"' },
        });
        expect(r.parts).toHaveLength(3);
        const expected = await Promise.all([2, 3, 5].map((n) => referenceRender(mf, files.get(mf) as string, n)));
        for (const [i, part] of r.parts.entries()) {
          expect(part.headers['content-type']).toBe('image/png');
          expect(psnr(await decodeImage(part.body), expected[i] as never)).toBeGreaterThanOrEqual(LOSSLESS_PSNR);
        }
      });
      it('sends the whole instance as one animated GIF timed by Frame Time', async () => {
        const r = await get(url(mf, '/rendered'), { accept: 'image/gif' });
        expect(r.type).toBe('image/gif');
        const meta = await (await import('sharp')).default(r.body, { animated: true }).metadata();
        expect(meta.pages).toBe(8);
        expect(meta.delay).toEqual(Array(8).fill(40));
      });
      it('renders the first frame of a multi-frame instance asked as one JPEG, and says so', async () => {
        const r = await get(url(mf, '/rendered'), { accept: 'image/jpeg' });
        expect(r.status).toBe(200);
        expect(r.headers.get('warning')).toMatch(/frame 1 of 8/);
      });
      it('answers 404 naming a frame beyond the last', async () => {
        const r = await get(url(mf, '/frames/9/rendered'));
        expect(r.status).toBe(404);
        expect(JSON.parse(r.body.toString()).message).toMatch(/frame 9 does not exist: the instance has 8 frames/);
      });
    });

    describe('caching', () => {
      it('sends an ETag and Cache-Control, and 304 for If-None-Match without rendering again', async () => {
        const f = fixture('sc-8bit-odd');
        const first = await get(url(f, '/rendered?quality=77'));
        const etag = first.headers.get('etag') as string;
        expect(etag).toMatch(/^"[\w-]+"$/);
        expect(first.headers.get('cache-control')).toMatch(/private/);
        const again = await fetch(url(f, '/rendered?quality=77'), { headers: { 'if-none-match': etag } });
        expect(again.status).toBe(304);
        const other = await fetch(url(f, '/rendered?quality=78'), { headers: { 'if-none-match': etag } });
        expect(other.status).toBe(200);
      });
    });

    describe('studies, series, thumbnails, non-image objects', () => {
      it('renders a study as one part per image frame, 206 with a Warning counting the SR and the PDF', async () => {
        const r = await fetch(`${gw.base}/studies/${IMAGING_STUDY.uid}/rendered`, {
          headers: { accept: 'multipart/related; type="image/jpeg"' },
        });
        expect(r.status).toBe(206);
        expect(r.headers.get('warning')).toMatch(/2 instance\(s\) not rendered/);
        const body = Buffer.from(await r.arrayBuffer());
        const frames = IMAGING_FIXTURES.filter((f) => f.kind === 'image').reduce((a, f) => a + f.frames, 0);
        expect(body.toString('latin1').split('Content-Type: image/jpeg').length - 1).toBe(frames);
      });
      it('renders a series with only images with 200, and 404 for a series with nothing renderable', async () => {
        const series = await fetch(
          `${gw.base}/studies/${IMAGING_STUDY.uid}/series/${fixture('rgb-planar0').seriesUid}/rendered`,
          { headers: { accept: 'multipart/related; type="image/png"' } },
        );
        expect(series.status).toBe(200);
        const sr = await fetch(
          `${gw.base}/studies/${IMAGING_STUDY.uid}/series/${fixture('sr-basic').seriesUid}/rendered`,
          { headers: { accept: 'multipart/related; type="image/png"' } },
        );
        expect(sr.status).toBe(404);
        const single = await fetch(`${gw.base}/studies/${IMAGING_STUDY.uid}/rendered`, {
          headers: { accept: 'image/jpeg' },
        });
        expect(single.status).toBe(406);
      });
      it('makes small thumbnails: 128 pixels at most, of the middle frame, viewport overrides', async () => {
        const mf = fixture('multiframe');
        const thumb = await get(url(mf, '/thumbnail?accept=image/png'));
        const img = await decodeImage(thumb.body);
        expect([img.width, img.height]).toEqual([128, 128]);
        const ct = await decodeImage((await get(url(fixture('ct-signed'), '/thumbnail'))).body);
        expect(Math.max(ct.width, ct.height)).toBeLessThanOrEqual(128);
        const middle = await referenceRender(mf, files.get(mf) as string, 4);
        expect(psnr(img, middle)).toBeGreaterThanOrEqual(LOSSLESS_PSNR);
        const sized = await decodeImage((await get(url(fixture('ct-signed'), '/thumbnail?viewport=64,32'))).body);
        expect([sized.width, sized.height]).toEqual([64, 32]);
      });
      it('makes a study thumbnail of the first image series', async () => {
        const study = await decodeImage(
          (await get(`${gw.base}/studies/${IMAGING_STUDY.uid}/thumbnail?accept=image/png`)).body,
        );
        const ct = await decodeImage((await get(url(fixture('ct-signed'), '/thumbnail?accept=image/png'))).body);
        expect(maxDifference(study, ct)).toBe(0);
        expect((await get(`${gw.base}/studies/1.2.3.4.5.6/thumbnail`)).status).toBe(404);
      });
      it('gives non-image objects an icon as thumbnail', async () => {
        for (const key of ['sr-basic', 'pdf']) {
          const r = await get(url(fixture(key), '/thumbnail'));
          expect(r.status).toBe(200);
          expect(r.type).toBe('image/jpeg');
          const img = await decodeImage(r.body);
          expect(Math.max(img.width, img.height)).toBe(128);
        }
      });
      it('renders an Encapsulated PDF as the document and an SR as HTML or text', async () => {
        const pdf = await get(url(fixture('pdf'), '/rendered'), { accept: 'application/pdf' });
        expect(pdf.type).toBe('application/pdf');
        expect(pdf.body.equals(PDF_DOCUMENT)).toBe(true);
        const html = await get(url(fixture('sr-basic'), '/rendered'), { accept: 'text/html' });
        expect(html.type).toMatch(/^text\/html/);
        expect(html.body.toString()).toContain('Lungs clear &lt;both sides&gt; &amp; heart normal.');
        expect(html.body.toString()).toContain('<h2>Findings</h2>');
        const text = await get(url(fixture('sr-basic'), '/rendered'), { accept: 'text/plain' });
        expect(text.body.toString()).toMatch(/Impression: Normal/);
        expect((await get(url(fixture('pdf'), '/rendered'), { accept: 'image/jpeg' })).status).toBe(406);
      });
    });

    describe('errors', () => {
      it('answers 400 for a malformed UID or frame list, 404 for unknown resources', async () => {
        expect((await get(`${gw.base}/studies/1.2.x/rendered`)).status).toBe(400);
        expect((await get(url(fixture('ct-signed'), '/frames/0/rendered'))).status).toBe(400);
        expect((await get(url(fixture('ct-signed'), '/frames/1,a/rendered'))).status).toBe(400);
        expect(
          (await get(`${gw.base}/studies/${IMAGING_STUDY.uid}/series/1.2.3/instances/1.2.3.4/rendered`)).status,
        ).toBe(404);
      });
    });
  });
}

describe('rendering: corrupt data, coalescing, frame cache, video (through Orthanc)', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  const study = uidFromLabel('render-extra/study');
  const series = uidFromLabel('render-extra/series');
  const files = imagingFixtureFiles();
  const dir = tempDir('render-extra');
  /** A fixture copied into this describe's study under a new SOP Instance UID, in a transfer syntax made by `convert`. */
  const variant = async (
    key: string,
    sop: string,
    convert?: (from: string, to: string) => Promise<unknown>,
  ): Promise<string> => {
    const ds = fixture(key).build();
    ds.setText(Tags.SOPInstanceUID, sop, 'UI')
      .setText(Tags.StudyInstanceUID, study, 'UI')
      .setText(Tags.SeriesInstanceUID, series, 'UI');
    const source = path.join(dir, `${sop}-source.dcm`);
    writeFileSync(source, encodePart10File(ds, { sopClassUid: fixture(key).sopClassUid, sopInstanceUid: sop }));
    if (!convert) return source;
    const out = path.join(dir, `${sop}.dcm`);
    await convert(source, out);
    return out;
  };
  const j2kSop = uidFromLabel('render-extra/j2k');
  const corruptSop = uidFromLabel('render-extra/corrupt');
  const videoSop = uidFromLabel('render-extra/video');
  const videoStream = Buffer.from(Array.from({ length: 4099 }, (_, i) => (i * 31) & 0xff));
  const url = (sop: string): string => `${gw.base}/studies/${study}/series/${series}/instances/${sop}`;

  beforeAll(async () => {
    const j2k = await variant('mr-12bit', j2kSop, (a, b) => run('gdcmconv', ['-K', a, b]));
    // The same JPEG 2000 file with its image header (SIZ) overwritten: the DICOM file parses, the codestream does not.
    const corrupt = await variant('mr-12bit', corruptSop, (a, b) => run('gdcmconv', ['-K', a, b]));
    const bytes = readFileSync(corrupt);
    const codestream = bytes.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]));
    bytes.fill(0xff, codestream + 4, codestream + 44);
    writeFileSync(corrupt, bytes);
    // An encapsulated H.264 stream: the gateway never decodes video, it hands the stream on (PS3.18 §8.7.4).
    const video = new Dataset()
      .setText(Tags.SOPClassUID, '1.2.840.10008.5.1.4.1.1.77.1.1.1', 'UI')
      .setText(Tags.SOPInstanceUID, videoSop, 'UI')
      .setText(Tags.StudyInstanceUID, study, 'UI')
      .setText(Tags.SeriesInstanceUID, series, 'UI')
      .setText(tag(0x0008, 0x0060), 'ES', 'CS')
      .setUint16(Tags.SamplesPerPixel, 3)
      .setText(Tags.PhotometricInterpretation, 'YBR_PARTIAL_420', 'CS')
      .setUint16(Tags.PlanarConfiguration, 0)
      .setText(Tags.NumberOfFrames, '30', 'IS')
      .setUint16(Tags.Rows, 720)
      .setUint16(Tags.Columns, 1280)
      .setUint16(Tags.BitsAllocated, 8)
      .setUint16(Tags.BitsStored, 8)
      .setUint16(Tags.HighBit, 7)
      .setUint16(Tags.PixelRepresentation, 0);
    const item = (b: Buffer): Buffer => {
      const h = Buffer.alloc(8);
      h.writeUInt16LE(0xfffe, 0);
      h.writeUInt16LE(0xe000, 2);
      h.writeUInt32LE(b.length, 4);
      return Buffer.concat([h, b]);
    };
    const pixelHeader = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    const padded = Buffer.concat([videoStream, Buffer.alloc(videoStream.length % 2)]);
    const end = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const videoFile = path.join(dir, 'video.dcm');
    writeFileSync(
      videoFile,
      Buffer.concat([
        encodeFileMetaHeader({
          mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.77.1.1.1',
          mediaStorageSopInstanceUid: videoSop,
          transferSyntaxUid: '1.2.840.10008.1.2.4.102',
          implementationClassUid: IMPLEMENTATION.classUid,
          implementationVersionName: IMPLEMENTATION.versionName,
        }),
        writeDataset(video, { explicitVR: true, littleEndian: true }),
        pixelHeader,
        item(Buffer.alloc(0)),
        item(padded),
        end,
      ]),
    );
    const dimsePort = await freePort();
    pacs = await startOrthanc({
      loadFixtures: false,
      moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
    });
    for (const file of [j2k, corrupt, videoFile, files.get(fixture('multiframe')) as string]) {
      const r = await fetch(`http://127.0.0.1:${pacs.httpPort}/instances`, {
        method: 'POST',
        body: readFileSync(file),
      });
      expect(r.ok).toBe(true);
    }
    gw = await startTestGateway(pacs, { dimse: { port: dimsePort }, render: { thumbnailChoice: 'first' } });
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  it("answers 500 with the decoder's reason for corrupt pixel data, and keeps serving", async () => {
    const r = await fetch(`${url(corruptSop)}/rendered`);
    expect(r.status).toBe(500);
    expect(await r.json()).toMatchObject({
      error: 'DWG_DECODE_FAILED',
      message: expect.stringMatching(/frame 1 of instance .* could not be decoded/),
    });
    const ok = await fetch(`${url(j2kSop)}/rendered`);
    expect(ok.status).toBe(200);
    expect((await fetch(`${gw.base.replace('/dicomweb', '')}/healthz`)).status).toBe(200);
  });

  it('decodes a frame once for ten identical concurrent requests, and not again for another window', async () => {
    const before = { ...gw.render.counters };
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => fetch(`${url(j2kSop)}/frames/1/rendered?accept=image/png&window=2000,1500`)),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const bodies = await Promise.all(answers.map(async (a) => Buffer.from(await a.arrayBuffer())));
    expect(bodies.every((b) => b.equals(bodies[0] as Buffer))).toBe(true);
    const afterTen = { ...gw.render.counters };
    expect(afterTen.imagesEncoded - before.imagesEncoded).toBe(1);
    expect(afterTen.framesDecoded - before.framesDecoded).toBeLessThanOrEqual(1); // 0 if an earlier test decoded it
    const other = await fetch(`${url(j2kSop)}/frames/1/rendered?accept=image/png&window=1000,500`);
    expect(other.status).toBe(200);
    expect(gw.render.counters.framesDecoded).toBe(afterTen.framesDecoded);
    expect(gw.render.counters.imagesEncoded).toBe(afterTen.imagesEncoded + 1);
  });

  it('hands a video stream on with its media type when accepted, and 406 otherwise', async () => {
    const r = await fetch(`${url(videoSop)}/rendered`, { headers: { accept: 'video/mp4' } });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(r.headers.get('content-type')).toBe('video/mp4');
    expect(
      Buffer.from(await r.arrayBuffer()).equals(Buffer.concat([videoStream, Buffer.alloc(videoStream.length % 2)])),
    ).toBe(true);
    expect((await fetch(`${url(videoSop)}/rendered`, { headers: { accept: 'image/jpeg' } })).status).toBe(406);
    const icon = await fetch(`${url(videoSop)}/thumbnail`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/jpeg');
  });

  it('makes thumbnails of the first frame with thumbnailChoice: first', async () => {
    const mf = fixture('multiframe');
    const thumb = await decodeImage(
      Buffer.from(
        await (
          await fetch(
            `${gw.base}/studies/${IMAGING_STUDY.uid}/series/${mf.seriesUid}/instances/${mf.uid}/thumbnail?accept=image/png`,
          )
        ).arrayBuffer(),
      ),
    );
    expect(psnr(thumb, await referenceRender(mf, files.get(mf) as string, 1))).toBeGreaterThanOrEqual(LOSSLESS_PSNR);
  });
});
