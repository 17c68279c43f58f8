/**
 * Imaging fixtures for render tests (fixtures/imaging.ts), and what DCMTK's dcmj2pnm makes of them: the
 * reference every rendered pixel is compared with.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { run } from '../../devkit/processes.js';
import { parsePnm, type Bitmap } from './pnm.js';
import {
  IMAGING_FIXTURES,
  enhancedFrameWindow,
  expandedSegments,
  generateImagingFixtures,
  type ImagingFixture,
} from '../../src/samples/imaging.js';
import { Dataset } from '../../src/dicom/dataset.js';
import { encodePart10File } from '../../src/dicom/part10.js';
import { tag, Tags } from '../../src/dicom/tag.js';
import { tempDir } from '../../devkit/temp.js';

let cached: { dir: string; files: Map<ImagingFixture, string> } | undefined;

/** The imaging fixtures as files, written once per test process. */
export function imagingFixtureFiles(): Map<ImagingFixture, string> {
  if (cached && existsSync(cached.dir)) return cached.files;
  const dir = tempDir('imaging');
  cached = { dir, files: generateImagingFixtures(dir) };
  return cached.files;
}

export const fixture = (key: string): ImagingFixture => {
  const f = IMAGING_FIXTURES.find((x) => x.key === key);
  if (!f) throw new Error(`no imaging fixture ${key}`);
  return f;
};

function writeFile(ds: Dataset, f: ImagingFixture, file: string): string {
  writeFileSync(file, encodePart10File(ds, { sopClassUid: f.sopClassUid, sopInstanceUid: f.uid }));
  return file;
}

/**
 * The file DCMTK renders for frame n of a fixture, and its options. Two fixtures need a stand-in DCMTK can read,
 * built from the fixture's own definition, not by the gateway: the segmented palette written out as a plain one,
 * and a frame of the enhanced MR with its functional-group rescale and window moved to the top level.
 */
export function referenceInput(f: ImagingFixture, file: string, frame: number): { file: string; args: string[] } {
  const dir = tempDir('refin');
  if (f.key === 'palette-segmented') {
    const ds = f.build();
    const lut = expandedSegments();
    for (const [c, el] of [0x1221, 0x1222, 0x1223].entries()) {
      ds.delete(tag(0x0028, el));
      const bytes = Buffer.alloc(512);
      (lut[c] as number[]).forEach((v, i) => bytes.writeUInt16LE(v, i * 2));
      ds.set({ tag: tag(0x0028, 0x1201 + c), vr: 'OW', bytes });
    }
    return { file: writeFile(ds, f, path.join(dir, 'linear-palette.dcm')), args: ['+F', '1'] };
  }
  if (f.key === 'enhanced-mr') {
    const ds = f.build();
    const w = enhancedFrameWindow(frame);
    const pixel = ds.get(Tags.PixelData);
    const bytes = pixel && 'bytes' in pixel ? pixel.bytes : Buffer.alloc(0);
    const size = 96 * 96 * 2;
    ds.delete(tag(0x5200, 0x9229));
    ds.delete(tag(0x5200, 0x9230));
    ds.setText(Tags.NumberOfFrames, '1', 'IS');
    ds.setText(tag(0x0028, 0x1052), String(w.intercept), 'DS').setText(tag(0x0028, 0x1053), String(w.slope), 'DS');
    ds.setText(tag(0x0028, 0x1050), String(w.center), 'DS').setText(tag(0x0028, 0x1051), String(w.width), 'DS');
    ds.set({ tag: Tags.PixelData, vr: 'OW', bytes: bytes.subarray((frame - 1) * size, frame * size) });
    return { file: writeFile(ds, f, path.join(dir, `frame${frame}.dcm`)), args: ['+Wi', '1', '+F', '1'] };
  }
  return { file, args: [...f.reference, '+F', String(frame)] };
}

/** DCMTK's rendering of frame n of a fixture file with the fixture's default VOI, or with `args` instead. */
export async function referenceRender(
  f: ImagingFixture,
  file: string,
  frame: number,
  args?: string[],
): Promise<Bitmap> {
  const input = referenceInput(f, file, frame);
  const out = path.join(tempDir('ref'), 'out.pnm');
  await run('dcmj2pnm', [
    '+op',
    ...(args ? [...args, '+F', String(frame)] : input.args),
    args ? file : input.file,
    out,
  ]);
  return parsePnm(readFileSync(out));
}

/** An encoded image (PNG, JPEG, GIF) as 8-bit samples, decoded by sharp (libvips), one or three channels. */
export async function decodeImage(bytes: Buffer): Promise<Bitmap> {
  const meta = await sharp(bytes).metadata();
  // libvips turns grey into sRGB on decoding unless asked to keep it.
  const grey = meta.channels === 1 || meta.channels === 2 || meta.space === 'b-w';
  const { data, info } = await (grey ? sharp(bytes).toColourspace('b-w') : sharp(bytes))
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels === 1 || info.channels === 3)
    return { width: info.width, height: info.height, channels: info.channels, data };
  // Drop alpha; a grey+alpha image keeps its grey.
  const channels = info.channels === 2 ? 1 : 3;
  const out = Buffer.alloc(info.width * info.height * channels);
  for (let i = 0; i < info.width * info.height; i++)
    for (let c = 0; c < channels; c++) out[i * channels + c] = data[i * info.channels + c] as number;
  return { width: info.width, height: info.height, channels, data: out };
}

/** A colour reference compared with a grey rendering (or the reverse) is a test bug: make it explicit. */
export function sameShape(a: Bitmap, b: Bitmap): boolean {
  return a.width === b.width && a.height === b.height && a.channels === b.channels;
}
