import type { Dataset } from '../dicom/dataset.js';
import { tag, type Tag } from '../dicom/tag.js';
import type { PixelFormat } from '../codecs/pixel-format.js';
import { expandSegmented, lutFromItem, readDescriptor, readLutData, LutError, type Lut } from './lut.js';

/** VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3. */
export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

export interface Window {
  center: number;
  width: number;
  fn: VoiFunction;
}

/** How a grayscale frame becomes display values (PS3.4 Annex N.2.1, PS3.3 C.11). */
export interface GrayscaleDescription {
  kind: 'grayscale';
  /** Modality LUT: Rescale Slope/Intercept, or a Modality LUT Sequence (PS3.3 C.11.1). */
  modality: { slope: number; intercept: number } | { lut: Lut };
  /** Window Center/Width pairs, the first of which applies by default (PS3.3 C.11.2). */
  windows: Window[];
  /** VOI LUT Sequence items, used when there is no window (PS3.3 C.11.2). */
  voiLuts: Lut[];
  /** MONOCHROME1, or Presentation LUT Shape INVERSE (PS3.3 C.11.6). */
  inverted: boolean;
  /** Stored values that are padding, not image (PS3.3 C.7.5.1.1.2): shown as background (black). */
  padding?: { low: number; high: number };
}

export interface ColorDescription {
  kind: 'color';
  /** PALETTE COLOR: the red, green and blue LUTs (PS3.3 C.7.6.3.1.5). */
  palette?: { red: Lut; green: Lut; blue: Lut };
}

export type RenderDescription = GrayscaleDescription | ColorDescription;

export class RenderDescriptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderDescriptionError';
  }
}

const FG = {
  shared: tag(0x5200, 0x9229),
  perFrame: tag(0x5200, 0x9230),
  pixelValueTransformation: tag(0x0028, 0x9145),
  frameVoiLut: tag(0x0028, 0x9132),
} as const;

const T = {
  windowCenter: tag(0x0028, 0x1050),
  windowWidth: tag(0x0028, 0x1051),
  rescaleIntercept: tag(0x0028, 0x1052),
  rescaleSlope: tag(0x0028, 0x1053),
  voiLutFunction: tag(0x0028, 0x1056),
  modalityLutSequence: tag(0x0028, 0x3000),
  voiLutSequence: tag(0x0028, 0x3010),
  presentationLutShape: tag(0x2050, 0x0020),
  pixelPaddingValue: tag(0x0028, 0x0120),
  pixelPaddingRangeLimit: tag(0x0028, 0x0121),
} as const;

/** The values of a DS/IS element as numbers (backslash-separated). */
export function numbers(ds: Dataset | undefined, t: Tag): number[] {
  const text = ds?.getString(t);
  if (!text) return [];
  return text
    .split('\\')
    .map((v) => Number(v.trim()))
    .filter((n) => Number.isFinite(n));
}

const firstItem = (ds: Dataset | undefined, t: Tag): Dataset | undefined => {
  const el = ds?.get(t);
  return el && el.vr === 'SQ' ? el.items[0] : undefined;
};

/**
 * Where a frame's attributes are: the frame's item of the Per-frame Functional Groups Sequence, the Shared
 * Functional Groups item, then the top level (PS3.3 C.7.6.16: functional groups override for enhanced images).
 */
function frameSources(ds: Dataset, frame: number, macro: Tag): Dataset[] {
  const perFrameEl = ds.get(FG.perFrame);
  const perFrame = perFrameEl && perFrameEl.vr === 'SQ' ? perFrameEl.items[frame - 1] : undefined;
  return [firstItem(perFrame, macro), firstItem(firstItem(ds, FG.shared), macro), ds].filter(
    (d): d is Dataset => d !== undefined,
  );
}

function voiFunction(text: string | undefined): VoiFunction {
  const v = text?.trim().toUpperCase();
  return v === 'LINEAR_EXACT' || v === 'SIGMOID' ? v : 'LINEAR';
}

function paletteLut(ds: Dataset, color: 0 | 1 | 2, signed: boolean): Lut {
  const name = ['red', 'green', 'blue'][color];
  const descriptor = readDescriptor(ds, tag(0x0028, 0x1101 + color), signed);
  if (!descriptor) throw new RenderDescriptionError(`PALETTE COLOR without a ${name} palette descriptor`);
  const plain = ds.get(tag(0x0028, 0x1201 + color));
  const segmented = ds.get(tag(0x0028, 0x1221 + color));
  if (plain && 'bytes' in plain)
    return {
      firstMapped: descriptor.firstMapped,
      values: readLutData(plain.bytes, descriptor.entries, descriptor.bits),
      bits: descriptor.bits,
    };
  if (segmented && 'bytes' in segmented) {
    const words = new Uint16Array(segmented.bytes.length >> 1);
    for (let i = 0; i < words.length; i++) words[i] = segmented.bytes.readUInt16LE(i * 2);
    return {
      firstMapped: descriptor.firstMapped,
      values: expandSegmented(words, descriptor.entries),
      bits: descriptor.bits,
    };
  }
  throw new RenderDescriptionError(`PALETTE COLOR without ${name} palette data`);
}

/** How frame `frame` (1-based) of an image is rendered. */
export function describeFrame(ds: Dataset, format: PixelFormat, frame: number): RenderDescription {
  const photometric = format.photometricInterpretation;
  try {
    if (photometric === 'PALETTE COLOR') {
      const signed = format.pixelRepresentation === 1;
      return {
        kind: 'color',
        palette: { red: paletteLut(ds, 0, signed), green: paletteLut(ds, 1, signed), blue: paletteLut(ds, 2, signed) },
      };
    }
    if (format.samplesPerPixel !== 1) return { kind: 'color' };
    if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2')
      throw new RenderDescriptionError(
        `Photometric Interpretation ${photometric} with one sample per pixel is not renderable`,
      );
    const signed = format.pixelRepresentation === 1;

    let modality: GrayscaleDescription['modality'] = { slope: 1, intercept: 0 };
    for (const source of frameSources(ds, frame, FG.pixelValueTransformation)) {
      const slope = numbers(source, T.rescaleSlope)[0];
      const intercept = numbers(source, T.rescaleIntercept)[0];
      if (slope !== undefined || intercept !== undefined) {
        modality = { slope: slope ?? 1, intercept: intercept ?? 0 };
        break;
      }
      const lutItem = firstItem(source, T.modalityLutSequence);
      const lut = lutItem ? lutFromItem(lutItem, signed) : undefined;
      if (lut) {
        modality = { lut };
        break;
      }
    }

    let windows: Window[] = [];
    let voiLuts: Lut[] = [];
    for (const source of frameSources(ds, frame, FG.frameVoiLut)) {
      const centers = numbers(source, T.windowCenter);
      const widths = numbers(source, T.windowWidth);
      const fn = voiFunction(source.getString(T.voiLutFunction));
      windows = centers
        .slice(0, widths.length)
        .map((center, i) => ({ center, width: widths[i] as number, fn }))
        .filter((w) => w.width > 0);
      const seq = source.get(T.voiLutSequence);
      // The input of a VOI LUT is the Modality LUT's output: its first mapped value is signed when declared SS.
      voiLuts =
        seq && seq.vr === 'SQ'
          ? seq.items
              .map((item) => lutFromItem(item, item.get(0x00283002)?.vr === 'SS'))
              .filter((l): l is Lut => l !== undefined)
          : [];
      if (windows.length || voiLuts.length) break;
    }

    const shape = ds.getString(T.presentationLutShape);
    const inverted = photometric === 'MONOCHROME1' || shape === 'INVERSE';
    const description: GrayscaleDescription = { kind: 'grayscale', modality, windows, voiLuts, inverted };
    const paddingEl = ds.get(T.pixelPaddingValue);
    if (paddingEl && 'bytes' in paddingEl && paddingEl.bytes.length >= 2) {
      const read = (b: Buffer): number => (signed ? b.readInt16LE(0) : b.readUInt16LE(0));
      const value = read(paddingEl.bytes);
      const limitEl = ds.get(T.pixelPaddingRangeLimit);
      const limit = limitEl && 'bytes' in limitEl && limitEl.bytes.length >= 2 ? read(limitEl.bytes) : value;
      description.padding = { low: Math.min(value, limit), high: Math.max(value, limit) };
    }
    return description;
  } catch (err) {
    if (err instanceof LutError) throw new RenderDescriptionError(err.message);
    throw err;
  }
}
