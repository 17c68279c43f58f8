/**
 * Pixel data as decoders we did not write see it: DCMTK (dcmconv, dcmdjpeg, dcmdjpls, dcmdrle), GDCM (gdcmconv
 * for JPEG 2000) and OpenJPEG's opj_decompress (HTJ2K codestreams, which neither DCMTK 3.6.7 nor GDCM 3.0 read).
 * Raw values are extracted with `dcmdump +W`, so no byte of the comparison passes through the gateway's code.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../devkit/processes.js';
import { TransferSyntax as TS } from '../../src/dicom/transfer-syntax.js';
import { metaOf } from './variants.js';
import { tempDir } from '../../devkit/temp.js';

export interface ReferencePixels {
  /** Native pixel data, little endian, all frames. */
  pixels: Buffer;
  /** Photometric Interpretation of the decoded file, as the reference tool wrote it. */
  photometric: string;
}

const NATIVE: ReadonlySet<string> = new Set([
  TS.ExplicitVRLittleEndian,
  TS.ImplicitVRLittleEndian,
  TS.ExplicitVRBigEndian,
  TS.DeflatedExplicitVRLittleEndian,
]);
const JPEG: ReadonlySet<string> = new Set([
  TS.JPEGBaseline8Bit,
  TS.JPEGExtended12Bit,
  TS.JPEGLossless,
  TS.JPEGLosslessSV1,
]);
const JLS: ReadonlySet<string> = new Set([TS.JPEGLSLossless, TS.JPEGLSNearLossless]);
const J2K: ReadonlySet<string> = new Set([TS.JPEG2000Lossless, TS.JPEG2000]);
const HTJ2K: ReadonlySet<string> = new Set([TS.HTJ2KLossless, TS.HTJ2KLosslessRPCL, TS.HTJ2K]);

/** The raw files `dcmdump +W` writes for a file's pixel data, in item order (0: offset table or native data). */
async function rawItems(file: string): Promise<Buffer[]> {
  const dir = tempDir('raw');
  await run('dcmdump', ['+W', dir, file]);
  const names = readdirSync(dir)
    .map((n) => ({ n, i: Number(/\.(\d+)\.raw$/.exec(n)?.[1]) }))
    .sort((a, b) => a.i - b.i);
  return names.map(({ n }) => readFileSync(path.join(dir, n)));
}

async function samplesPerPixelOf(file: string): Promise<number> {
  const { stdout } = await run('dcmdump', ['+P', '0028,0002', file]);
  return Number(/US (\d+)/.exec(stdout)?.[1] ?? 1);
}

/** opj_decompress writes raw components one after another; DICOM native colour is colour-by-pixel. */
function interleaveComponents(planar: Buffer, components: number): Buffer {
  if (components === 1) return planar;
  const plane = planar.length / components;
  const out = Buffer.alloc(planar.length);
  for (let i = 0; i < plane; i++)
    for (let c = 0; c < components; c++) out[i * components + c] = planar[c * plane + i] as number;
  return out;
}

async function photometricOf(file: string): Promise<string> {
  const { stdout } = await run('dcmdump', ['+P', '0028,0004', file]);
  return /\[([^\]]*)\]/.exec(stdout)?.[1]?.trim() ?? '';
}

/** Writes `file` (not HTJ2K) as Explicit VR Little Endian with DCMTK, or GDCM for JPEG 2000. */
async function decompress(file: string, ts: string, out: string): Promise<void> {
  if (NATIVE.has(ts)) await run('dcmconv', ['+te', file, out]);
  else if (JPEG.has(ts)) await run('dcmdjpeg', [file, out]);
  else if (JLS.has(ts)) await run('dcmdjpls', [file, out]);
  else if (ts === TS.RLELossless) await run('dcmdrle', [file, out]);
  else if (J2K.has(ts)) await run('gdcmconv', ['--raw', file, out]);
  else throw new Error(`no reference decoder for ${ts}`);
}

/** A decompressed copy of a file, made by DCMTK or GDCM (for renderers that read only some syntaxes). */
export async function decompressedCopy(file: string): Promise<string> {
  const out = path.join(tempDir('decomp'), 'native.dcm');
  await decompress(file, metaOf(readFileSync(file)).transferSyntax, out);
  return out;
}

/** Decodes a DICOM file to native pixels with DCMTK, GDCM or OpenJPEG, whichever reads its transfer syntax. */
export async function referenceDecode(file: string): Promise<ReferencePixels> {
  const ts = metaOf(readFileSync(file)).transferSyntax;
  const dir = tempDir('ref');
  const out = path.join(dir, 'native.dcm');
  if (HTJ2K.has(ts)) {
    const items = (await rawItems(file)).slice(1); // one fragment per frame (our encoder's layout)
    const frames: Buffer[] = [];
    for (const [i, item] of items.entries()) {
      const j2c = path.join(dir, `frame${i}.j2c`);
      writeFileSync(j2c, item);
      const raw = path.join(dir, `frame${i}.rawl`);
      await run('opj_decompress', ['-quiet', '-i', j2c, '-o', raw]);
      frames.push(interleaveComponents(readFileSync(raw), await samplesPerPixelOf(file)));
    }
    return { pixels: Buffer.concat(frames), photometric: await photometricOf(file) };
  }
  await decompress(file, ts, out);
  const [pixels] = await rawItems(out);
  if (!pixels) throw new Error(`${file}: no pixel data after decoding`);
  return { pixels, photometric: await photometricOf(out) };
}
