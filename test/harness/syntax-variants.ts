/**
 * The imaging fixtures in every transfer syntax the rendering service must read (issue 5: the 13 of the source
 * statement, plus HTJ2K), each a separate SOP instance of a "variants" study: DCMTK and GDCM write them, except
 * HTJ2K, which neither writes, and JPEG 2000 of two palette fixtures GDCM cannot encode: the gateway's own encoder
 * makes those (it is checked against GDCM and OpenJPEG in wado-transcode.integration.test.ts).
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../devkit/processes.js';
import { metaOf } from './variants.js';
import { IMAGING_FIXTURES, type ImagingFixture } from '../../src/samples/imaging.js';
import { encodePart10File } from '../../src/dicom/part10.js';
import { readPart10Header } from '../../src/dicom/part10-reader.js';
import { Tags } from '../../src/dicom/tag.js';
import { uidFromLabel } from '../../src/dicom/uid.js';
import { TransferSyntax as TS } from '../../src/dicom/transfer-syntax.js';
import { transcodedPart10 } from '../../src/codecs/transcode.js';
import { CodecPool } from '../../src/codecs/codec-pool.js';
import { tempDir } from '../../devkit/temp.js';

export const VARIANT_STUDY = uidFromLabel('imaging/variants');

export interface SyntaxVariant {
  fixture: ImagingFixture;
  transferSyntax: string;
  lossy: boolean;
  file: string;
  /** The ELE file the variant was made from (the reference for lossless syntaxes). */
  source: string;
  series: string;
  sop: string;
}

/** How each syntax is written, and for which fixtures (what the tools can encode). */
interface Writer {
  ts: string;
  lossy: boolean;
  tool: 'dcmconv' | 'dcmcjpeg' | 'dcmcjpls' | 'dcmcrle' | 'gdcmconv' | 'gateway';
  args: string[];
  accepts(f: ImagingFixture): boolean;
}

const gray = (f: ImagingFixture): boolean =>
  !['rgb-planar0', 'rgb-planar1', 'ybr-full', 'palette-8', 'palette-16', 'palette-segmented'].includes(f.key);
const notBitmap = (f: ImagingFixture): boolean => f.key !== 'bitmap-1bit';
/** Lossy references are DCMTK's renderings of the lossy file; the stand-ins of two fixtures cannot be lossy. */
const plainReference = (f: ImagingFixture): boolean => f.key !== 'palette-segmented' && f.key !== 'enhanced-mr';
const bits = (f: ImagingFixture): number =>
  (
    ({
      'sc-8bit-odd': 8,
      'rgb-planar0': 8,
      'rgb-planar1': 8,
      'ybr-full': 8,
      'palette-8': 8,
      'palette-16': 8,
      'bitmap-1bit': 1,
      'ct-signed': 16,
      'palette-segmented': 16,
    }) as Record<string, number>
  )[f.key] ?? 12;

export const WRITERS: Writer[] = [
  { ts: TS.ImplicitVRLittleEndian, lossy: false, tool: 'dcmconv', args: ['+ti'], accepts: () => true },
  { ts: TS.ExplicitVRLittleEndian, lossy: false, tool: 'dcmconv', args: ['+te'], accepts: () => true },
  { ts: TS.DeflatedExplicitVRLittleEndian, lossy: false, tool: 'dcmconv', args: ['+td'], accepts: () => true },
  { ts: TS.ExplicitVRBigEndian, lossy: false, tool: 'dcmconv', args: ['+tb'], accepts: () => true },
  // +un: keep the SOP Instance UID (DCMTK gives lossy copies a new one by default).
  {
    ts: TS.JPEGBaseline8Bit,
    lossy: true,
    tool: 'dcmcjpeg',
    args: ['+eb', '+un'],
    accepts: (f) => bits(f) === 8 && plainReference(f) && !f.key.startsWith('palette'),
  },
  {
    ts: TS.JPEGExtended12Bit,
    lossy: true,
    tool: 'dcmcjpeg',
    args: ['+ee', '+un'],
    accepts: (f) => bits(f) === 12 && gray(f) && plainReference(f),
  },
  { ts: TS.JPEGLossless, lossy: false, tool: 'dcmcjpeg', args: ['+el'], accepts: notBitmap },
  { ts: TS.JPEGLosslessSV1, lossy: false, tool: 'dcmcjpeg', args: ['+e1'], accepts: notBitmap },
  { ts: TS.JPEGLSLossless, lossy: false, tool: 'dcmcjpls', args: ['+el'], accepts: notBitmap },
  // DCMTK refuses signed data for near-lossless JPEG-LS.
  {
    ts: TS.JPEGLSNearLossless,
    lossy: true,
    tool: 'dcmcjpls',
    args: ['+en', '+un'],
    accepts: (f) => notBitmap(f) && gray(f) && plainReference(f) && f.key !== 'ct-signed',
  },
  { ts: TS.JPEG2000Lossless, lossy: false, tool: 'gdcmconv', args: ['-K'], accepts: notBitmap },
  {
    ts: TS.JPEG2000,
    lossy: true,
    tool: 'gdcmconv',
    args: ['-K', '-Y', '--irreversible', '-q', '40'],
    accepts: (f) => notBitmap(f) && gray(f) && plainReference(f),
  },
  { ts: TS.RLELossless, lossy: false, tool: 'dcmcrle', args: [], accepts: notBitmap },
  { ts: TS.HTJ2KLossless, lossy: false, tool: 'gateway', args: [], accepts: notBitmap },
];

/** Writes every variant; a writer that fails for a fixture it claims to accept fails the test run. */
export async function makeSyntaxVariants(sources: Map<ImagingFixture, string>): Promise<SyntaxVariant[]> {
  const dir = tempDir('syntaxes');
  const codecs = new CodecPool({ threads: 2, maxQueue: 64 });
  const variants: SyntaxVariant[] = [];
  try {
    for (const f of IMAGING_FIXTURES.filter((x) => x.kind === 'image')) {
      for (const w of WRITERS.filter((x) => x.accepts(f))) {
        const sop = uidFromLabel(`variants/${f.key}/${w.ts}`);
        const series = uidFromLabel(`variants/series/${w.ts}`);
        const ds = f.build();
        ds.setText(Tags.SOPInstanceUID, sop, 'UI')
          .setText(Tags.SeriesInstanceUID, series, 'UI')
          .setText(Tags.StudyInstanceUID, VARIANT_STUDY, 'UI');
        const base = path.join(dir, `${f.key}-${w.ts}-source.dcm`);
        writeFileSync(base, encodePart10File(ds, { sopClassUid: f.sopClassUid, sopInstanceUid: sop }));
        const file = path.join(dir, `${f.key}-${w.ts}.dcm`);
        // GDCM 3.0 asserts on palettes whose first mapped value is not 0 and on segmented palettes.
        const tool =
          w.tool === 'gdcmconv' && (f.key === 'palette-16' || f.key === 'palette-segmented') ? 'gateway' : w.tool;
        if (tool === 'gateway') {
          const parts: Buffer[] = [];
          for await (const b of transcodedPart10(readPart10Header(base, 1 << 20), w.ts, codecs)) parts.push(b);
          writeFileSync(file, Buffer.concat(parts));
        } else if (w.ts === TS.ExplicitVRLittleEndian) {
          copyFileSync(base, file);
        } else {
          await run(tool, [...w.args, base, file]);
        }
        const written = metaOf(readFileSync(file));
        if (written.transferSyntax !== w.ts)
          throw new Error(`${tool} wrote ${written.transferSyntax} for ${f.key}, expected ${w.ts}`);
        // GDCM gives lossy copies a new SOP Instance UID (DCMTK keeps it with +un): take the file's.
        variants.push({
          fixture: f,
          transferSyntax: w.ts,
          lossy: w.lossy,
          file,
          source: sources.get(f) as string,
          series,
          sop: written.sopInstanceUid,
        });
      }
    }
  } finally {
    await codecs.close();
  }
  return variants;
}
