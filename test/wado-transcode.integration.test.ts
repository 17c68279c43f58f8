/**
 * WADO-RS transfer syntax negotiation (PS3.18 §8.7.3) through Orthanc, which stores and sends instances as
 * received: every source syntax DCMTK and GDCM can write, asked for in every syntax the gateway writes. Each
 * answer is decoded again by DCMTK, GDCM or OpenJPEG and must hold exactly the pixels those tools decode from
 * the source file. Frames are checked the same way, and what cannot be produced gets 406.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { fetchMultipart } from './harness/multipart.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { metaOf } from './harness/variants.js';
import { referenceDecode, type ReferencePixels } from './harness/reference-decode.js';
import { allInstances } from '../src/samples/catalog.js';
import { TransferSyntax as TS } from '../src/dicom/transfer-syntax.js';
import { tempDir } from '../devkit/temp.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

interface Source {
  name: string;
  transferSyntax: string;
  file: string;
  study: string;
  series: string;
  sop: string;
  reference: ReferencePixels;
}

/** Source instances: a fixture copied under a new SOP Instance UID, then converted by DCMTK or GDCM. */
const PLAN: { name: string; modality: 'CT' | 'MR' | 'US' | 'cine'; ts: string; tool: string; args: string[] }[] = [
  { name: 'CT implicit VR', modality: 'CT', ts: TS.ImplicitVRLittleEndian, tool: 'dcmconv', args: ['+ti'] },
  { name: 'CT explicit VR', modality: 'CT', ts: TS.ExplicitVRLittleEndian, tool: 'dcmconv', args: ['+te'] },
  { name: 'CT big endian', modality: 'CT', ts: TS.ExplicitVRBigEndian, tool: 'dcmconv', args: ['+tb'] },
  { name: 'MR deflated', modality: 'MR', ts: TS.DeflatedExplicitVRLittleEndian, tool: 'dcmconv', args: ['+td'] },
  {
    name: 'US RGB JPEG baseline (YBR_FULL_422)',
    modality: 'US',
    ts: TS.JPEGBaseline8Bit,
    tool: 'dcmcjpeg',
    args: ['+eb'],
  },
  { name: 'MR JPEG extended 12-bit', modality: 'MR', ts: TS.JPEGExtended12Bit, tool: 'dcmcjpeg', args: ['+ee'] },
  { name: 'MR JPEG lossless', modality: 'MR', ts: TS.JPEGLossless, tool: 'dcmcjpeg', args: ['+el'] },
  { name: 'CT JPEG lossless SV1', modality: 'CT', ts: TS.JPEGLosslessSV1, tool: 'dcmcjpeg', args: ['+e1'] },
  { name: 'CT JPEG-LS lossless', modality: 'CT', ts: TS.JPEGLSLossless, tool: 'dcmcjpls', args: ['+el'] },
  { name: 'MR JPEG-LS near-lossless', modality: 'MR', ts: TS.JPEGLSNearLossless, tool: 'dcmcjpls', args: ['+en'] },
  { name: 'US RGB RLE', modality: 'US', ts: TS.RLELossless, tool: 'dcmcrle', args: [] },
  { name: 'CT JPEG 2000 lossless', modality: 'CT', ts: TS.JPEG2000Lossless, tool: 'gdcmconv', args: ['-K'] },
  {
    name: 'MR JPEG 2000 lossy',
    modality: 'MR',
    ts: TS.JPEG2000,
    tool: 'gdcmconv',
    args: ['-K', '-Y', '--irreversible', '-q', '40'],
  },
  { name: 'cine JPEG-LS multi-frame', modality: 'cine', ts: TS.JPEGLSLossless, tool: 'dcmcjpls', args: ['+el'] },
];

const TARGETS = [
  TS.ExplicitVRLittleEndian,
  TS.ImplicitVRLittleEndian,
  TS.RLELossless,
  TS.JPEGLSLossless,
  TS.JPEG2000Lossless,
  TS.HTJ2KLossless,
  TS.JPEGLosslessSV1,
];

describe('WADO-RS transcoding (through Orthanc)', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  const dir = tempDir('transcode');
  const sources: Source[] = [];

  beforeAll(async () => {
    const files = fixtureFiles().files;
    const instances = [...allInstances()];
    const fixtureOf = (m: string): string =>
      files[
        instances.findIndex((i) => (m === 'cine' ? !!i.series.frames : i.series.modality === m && !i.series.frames))
      ] as string;
    const dimsePort = await freePort();
    pacs = await startOrthanc({
      loadFixtures: false,
      moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
    });
    for (const [i, p] of PLAN.entries()) {
      const copy = path.join(dir, `src${i}-copy.dcm`);
      const file = path.join(dir, `src${i}.dcm`);
      copyFileSync(fixtureOf(p.modality), copy);
      await run('dcmodify', ['-nb', '-gin', copy]);
      await run(p.tool, [...p.args, copy, file]);
      const meta = metaOf(readFileSync(file));
      expect(meta.transferSyntax).toBe(p.ts);
      const upload = await fetch(`http://127.0.0.1:${pacs.httpPort}/instances`, {
        method: 'POST',
        body: readFileSync(file),
      });
      expect(upload.ok).toBe(true);
      sources.push({
        name: p.name,
        transferSyntax: p.ts,
        file,
        ...(await studyAndSeriesOf(file)),
        sop: meta.sopInstanceUid,
        reference: await referenceDecode(file),
      });
    }
    gw = await startTestGateway(pacs, { dimse: { port: dimsePort } });
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  const url = (s: Source): string => `${gw.base}/studies/${s.study}/series/${s.series}/instances/${s.sop}`;

  it.each(PLAN.map((p) => p.name))(
    '%s: served in every syntax the gateway writes, pixels equal to the reference decoders',
    async (name) => {
      const source = sources.find((s) => s.name === name) as Source;
      for (const target of TARGETS) {
        const r = await fetchMultipart(url(source), {
          headers: { accept: `multipart/related; type="application/dicom"; transfer-syntax=${target}` },
        });
        expect(r.status, `${name} → ${target}`).toBe(200);
        expect(r.parts).toHaveLength(1);
        expect(r.parts[0]?.headers['content-type']).toBe(`application/dicom; transfer-syntax=${target}`);
        const out = path.join(dir, `out-${sources.indexOf(source)}-${target}.dcm`);
        writeFileSync(out, r.parts[0]?.body as Buffer);
        expect(metaOf(readFileSync(out)).transferSyntax).toBe(target);
        const decoded = await referenceDecode(out);
        expect(decoded.pixels.length, `${name} → ${target}: pixel bytes`).toBe(source.reference.pixels.length);
        expect(decoded.pixels.equals(source.reference.pixels), `${name} → ${target}: pixels`).toBe(true);
        expect(decoded.photometric, `${name} → ${target}: photometric`).toBe(source.reference.photometric);
      }
    },
  );

  it('serves Explicit VR Little Endian when the request names no transfer syntax (PS3.18 §8.7.3.5.2)', async () => {
    for (const source of sources.filter((s) => s.transferSyntax !== TS.ExplicitVRLittleEndian)) {
      const r = await fetchMultipart(url(source), {
        headers: { accept: 'multipart/related; type="application/dicom"' },
      });
      expect(r.parts[0]?.headers['content-type']).toBe(
        `application/dicom; transfer-syntax=${TS.ExplicitVRLittleEndian}`,
      );
    }
  });

  it('keeps Lossy Image Compression 01 when it decompresses a lossy image', async () => {
    const lossy = sources.find((s) => s.transferSyntax === TS.JPEG2000) as Source;
    const r = await fetchMultipart(url(lossy), { headers: { accept: 'multipart/related; type="application/dicom"' } });
    const out = path.join(dir, 'lossy-ele.dcm');
    writeFileSync(out, r.parts[0]?.body as Buffer);
    const { stdout } = await run('dcmdump', ['+P', '0028,2110', out]);
    expect(stdout).toMatch(/\[01\]/);
  });

  it('takes the next acceptable syntax when the preferred one cannot be made, and 406 when none can', async () => {
    const jpeg = sources.find((s) => s.transferSyntax === TS.JPEGBaseline8Bit) as Source;
    const ct = sources.find((s) => s.transferSyntax === TS.ExplicitVRLittleEndian) as Source;
    // The gateway never makes a lossy copy: JPEG baseline is available only for what is stored so.
    const fallback = await fetchMultipart(url(ct), {
      headers: {
        accept: `multipart/related; type="application/dicom"; transfer-syntax=${TS.JPEGBaseline8Bit}, multipart/related; type="application/dicom"; transfer-syntax=${TS.JPEGLSLossless}; q=0.5`,
      },
    });
    expect(fallback.parts[0]?.headers['content-type']).toBe(`application/dicom; transfer-syntax=${TS.JPEGLSLossless}`);
    const same = await fetchMultipart(url(jpeg), {
      headers: { accept: `multipart/related; type="application/dicom"; transfer-syntax=${TS.JPEGBaseline8Bit}` },
    });
    expect(same.parts[0]?.headers['content-type']).toBe(`application/dicom; transfer-syntax=${TS.JPEGBaseline8Bit}`);
    const refused = await fetch(url(ct), {
      headers: { accept: `multipart/related; type="application/dicom"; transfer-syntax=${TS.JPEGBaseline8Bit}` },
    });
    expect(refused.status).toBe(406);
    expect(((await refused.json()) as { message: string }).message).toMatch(
      /does not write 1\.2\.840\.10008\.1\.2\.4\.50/,
    );
    const bad = await fetch(url(ct), {
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=jpeg' },
    });
    expect(bad.status).toBe(406);
  });

  it('decodes compressed frames to native samples, and re-encodes frames for an image media type', async () => {
    const cine = sources.find((s) => s.name.startsWith('cine')) as Source;
    const frameBytes = 16 * 16;
    const native = await fetchMultipart(`${url(cine)}/frames/3,1`, {
      headers: { accept: 'multipart/related; type="application/octet-stream"' },
    });
    expect(native.status).toBe(200);
    expect(native.parts.map((p) => p.headers['content-type'])).toEqual(
      Array(2).fill(`application/octet-stream; transfer-syntax=${TS.ExplicitVRLittleEndian}`),
    );
    expect(native.parts[0]?.body.equals(cine.reference.pixels.subarray(2 * frameBytes, 3 * frameBytes))).toBe(true);
    expect(native.parts[1]?.body.equals(cine.reference.pixels.subarray(0, frameBytes))).toBe(true);

    const ct = sources.find((s) => s.transferSyntax === TS.JPEG2000Lossless) as Source;
    const rle = await fetchMultipart(`${url(ct)}/frames/1`, {
      headers: { accept: 'multipart/related; type="image/dicom-rle"' },
    });
    expect(rle.parts[0]?.headers['content-type']).toBe(`image/dicom-rle; transfer-syntax=${TS.RLELossless}`);
    // The RLE frame in a DICOM file of its own, decoded by DCMTK, gives the source's pixels.
    const wrapped = path.join(dir, 'rle-frame.dcm');
    await wrapFrame(ct.file, rle.parts[0]?.body as Buffer, TS.RLELossless, wrapped);
    expect((await referenceDecode(wrapped)).pixels.equals(ct.reference.pixels)).toBe(true);

    const refused = await fetch(`${url(ct)}/frames/1`, { headers: { accept: 'multipart/related; type="image/jpeg"' } });
    expect(refused.status).toBe(406);
  });
});

/** Study and Series Instance UIDs of a file, as DCMTK reads them (it inflates deflated files). */
async function studyAndSeriesOf(file: string): Promise<{ study: string; series: string }> {
  const { stdout } = await run('dcmdump', ['+P', '0020,000d', '+P', '0020,000e', file]);
  const values = [...stdout.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? '');
  return { study: values[0] ?? '', series: values[1] ?? '' };
}

/**
 * A DICOM file holding one frame the gateway encoded. Writing it with the gateway's own writer would test the
 * gateway against itself: instead the fragment replaces the one in a file DCMTK encoded in the same syntax.
 */
async function wrapFrame(source: string, frame: Buffer, ts: string, out: string): Promise<void> {
  const tmp = `${out}.dcmtk.dcm`;
  await run('gdcmconv', ['--raw', source, `${tmp}.raw.dcm`]);
  await run('dcmcrle', [`${tmp}.raw.dcm`, tmp]);
  const bytes = readFileSync(tmp);
  const itemTag = Buffer.from([0xfe, 0xff, 0x00, 0xe0]);
  // Pixel Data (7FE0,0010) OB undefined length, then the offset table item, then one fragment item.
  const pixelAt = bytes.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  const bot = bytes.indexOf(itemTag, pixelAt);
  const fragment = bot + 8 + bytes.readUInt32LE(bot + 4);
  const fragmentLength = bytes.readUInt32LE(fragment + 4);
  const header = Buffer.alloc(8);
  itemTag.copy(header, 0);
  header.writeUInt32LE(frame.length, 4);
  writeFileSync(
    out,
    Buffer.concat([bytes.subarray(0, fragment), header, frame, bytes.subarray(fragment + 8 + fragmentLength)]),
  );
  expect(metaOf(readFileSync(out)).transferSyntax).toBe(ts);
}
