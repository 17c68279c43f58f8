import type { Dataset } from '../dicom/dataset.js';
import { Tags } from '../dicom/tag.js';

/** The Image Pixel Module attributes a codec needs (PS3.3 C.7.6.3). */
export interface PixelFormat {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  /** 0 unsigned, 1 two's complement. */
  pixelRepresentation: 0 | 1;
  photometricInterpretation: string;
  /** 0 colour-by-pixel (R1G1B1R2…), 1 colour-by-plane (R…G…B…); meaningful only with 3 samples. */
  planarConfiguration: 0 | 1;
  numberOfFrames: number;
}

export class PixelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PixelFormatError';
  }
}

/** Reads the pixel description of a dataset; throws PixelFormatError when it cannot describe a frame. */
export function pixelFormatOf(ds: Dataset): PixelFormat {
  const rows = ds.getUint16(Tags.Rows);
  const columns = ds.getUint16(Tags.Columns);
  const bitsAllocated = ds.getUint16(Tags.BitsAllocated);
  if (!rows || !columns || !bitsAllocated)
    throw new PixelFormatError('the instance lacks Rows, Columns or Bits Allocated');
  const bitsStored = ds.getUint16(Tags.BitsStored) ?? bitsAllocated;
  const samplesPerPixel = ds.getUint16(Tags.SamplesPerPixel) ?? 1;
  if (bitsStored > bitsAllocated || bitsStored === 0)
    throw new PixelFormatError(`Bits Stored ${bitsStored} does not fit Bits Allocated ${bitsAllocated}`);
  return {
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit: ds.getUint16(Tags.HighBit) ?? bitsStored - 1,
    pixelRepresentation: ds.getUint16(Tags.PixelRepresentation) === 1 ? 1 : 0,
    photometricInterpretation:
      ds.getString(Tags.PhotometricInterpretation) ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2'),
    planarConfiguration: samplesPerPixel > 1 && ds.getUint16(Tags.PlanarConfiguration) === 1 ? 1 : 0,
    numberOfFrames: Math.max(1, Math.trunc(ds.getNumber(Tags.NumberOfFrames) ?? 1)),
  };
}

/** Bytes of one native frame (PS3.5 §8.1.1: frames of 1-bit data need not start on a byte). */
export function nativeFrameBytes(f: PixelFormat): number {
  return Math.ceil((f.rows * f.columns * f.samplesPerPixel * f.bitsAllocated) / 8);
}

/** YBR_FULL_422 and YBR_PARTIAL_422/420 store chroma at half horizontal resolution when uncompressed. */
export const isSubsampledYbr = (photometric: string): boolean => /^YBR_(FULL|PARTIAL)_42[02]$/.test(photometric);

/**
 * Why frames of this format cannot go to a lossless encoder, or undefined when they can: the encoders take 8- or
 * 16-bit samples at full resolution (`storedNative`: the samples are the stored, uncompressed ones).
 */
export function encodeProblem(format: PixelFormat, storedNative: boolean): string | undefined {
  if (format.bitsAllocated !== 8 && format.bitsAllocated !== 16)
    return `${format.bitsAllocated}-bit samples cannot be compressed`;
  if (storedNative && isSubsampledYbr(format.photometricInterpretation))
    return `uncompressed ${format.photometricInterpretation} cannot be compressed`;
  return undefined;
}
