import type { DataElement, Dataset } from '../dicom/dataset.js';
import type { Tag } from '../dicom/tag.js';

/** A lookup table (PS3.3 C.11.1.1): entries for input values firstMapped … firstMapped + entries − 1. */
export interface Lut {
  firstMapped: number;
  /** Output values, one per entry. */
  values: Uint16Array;
  /** Bits of each output value (the descriptor's third value). */
  bits: number;
}

export class LutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LutError';
  }
}

const inlineBytes = (el: DataElement | undefined): Buffer | undefined => (el && 'bytes' in el ? el.bytes : undefined);

/**
 * The three values of a LUT Descriptor (PS3.3 C.11.1.1.1): number of entries (0 means 65536), first input value
 * mapped (US, or SS when `signedInput` — its VR follows the pixel representation), and bits per entry.
 */
export function readDescriptor(
  ds: Dataset,
  t: Tag,
  signedInput: boolean,
): { entries: number; firstMapped: number; bits: number } | undefined {
  const b = inlineBytes(ds.get(t));
  if (!b || b.length < 6) return undefined;
  const entries = b.readUInt16LE(0) || 65536;
  const firstMapped = signedInput ? b.readInt16LE(2) : b.readUInt16LE(2);
  return { entries, firstMapped, bits: b.readUInt16LE(4) };
}

/**
 * LUT Data as entries. 16-bit entries are one per word; 8-bit entries are packed two per word, low byte first
 * (PS3.3 C.7.6.3.1.6) — but some writers put each 8-bit entry in a word of its own, which the data length tells.
 */
export function readLutData(bytes: Buffer, entries: number, bits: number): Uint16Array {
  const out = new Uint16Array(entries);
  if (bits <= 8 && bytes.length < entries * 2) {
    if (bytes.length < entries)
      throw new LutError(`LUT Data holds ${bytes.length} bytes for ${entries} entries of 8 bits`);
    for (let i = 0; i < entries; i++) out[i] = bytes[i] as number;
    return out;
  }
  if (bytes.length < entries * 2)
    throw new LutError(`LUT Data holds ${bytes.length} bytes for ${entries} entries of 16 bits`);
  for (let i = 0; i < entries; i++) out[i] = bytes.readUInt16LE(i * 2);
  if (bits <= 8) for (let i = 0; i < entries; i++) out[i] = (out[i] as number) & 0xff;
  return out;
}

/** A LUT from an item holding LUT Descriptor (0028,3002) and LUT Data (0028,3006) (Modality / VOI LUT Sequence). */
export function lutFromItem(item: Dataset, signedInput: boolean): Lut | undefined {
  const descriptor = readDescriptor(item, 0x00283002, signedInput);
  const data = inlineBytes(item.get(0x00283006));
  if (!descriptor || !data) return undefined;
  // Some writers declare 16 bits for 8-bit data or the reverse; the data length decides (as DCMTK does).
  const bits = data.length >= descriptor.entries * 2 ? Math.max(descriptor.bits, 9) : Math.min(descriptor.bits, 8);
  const values = readLutData(data, descriptor.entries, bits);
  return { firstMapped: descriptor.firstMapped, values, bits: descriptor.bits };
}

/**
 * Expands Segmented Palette Color LUT Data (PS3.3 C.7.9.2): opcode 0 discrete (count, values), 1 linear
 * (count, end value, interpolated from the previous value), 2 indirect (count, offset of earlier segments to
 * replay, as two words low first).
 */
export function expandSegmented(words: Uint16Array, entries: number): Uint16Array {
  const out: number[] = [];
  /** Appends one segment's entries; returns the index of the next segment. */
  const segment = (i: number, depth: number): number => {
    const op = words[i];
    const n = words[i + 1] ?? 0;
    if (op === 0) {
      for (let k = 0; k < n; k++) out.push(words[i + 2 + k] ?? 0);
      return i + 2 + n;
    }
    if (op === 1) {
      const start = out.length ? (out[out.length - 1] as number) : 0;
      const end = words[i + 2] ?? 0;
      for (let k = 1; k <= n; k++) out.push(Math.round(start + ((end - start) * k) / n));
      return i + 3;
    }
    if (op === 2) {
      if (depth > 4) throw new LutError('indirect segments nest too deeply');
      let at = (words[i + 2] ?? 0) | ((words[i + 3] ?? 0) << 16);
      for (let k = 0; k < n && at < words.length; k++) at = segment(at, depth + 1);
      return i + 4;
    }
    throw new LutError(`unknown segment opcode ${op}`);
  };
  for (let i = 0; i < words.length;) {
    i = segment(i, 0);
    if (out.length > entries + 65536) throw new LutError('segmented LUT expands beyond its descriptor');
  }
  const result = new Uint16Array(entries);
  for (let i = 0; i < entries; i++) result[i] = out[Math.min(i, out.length - 1)] ?? 0;
  return result;
}

/** Looks up a value, clamping below the first and above the last entry (PS3.3 C.11.1.1). */
export function lookup(lut: Lut, value: number): number {
  const i = value - lut.firstMapped;
  const values = lut.values;
  return (i <= 0 ? values[0] : i >= values.length ? values[values.length - 1] : values[i]) as number;
}
