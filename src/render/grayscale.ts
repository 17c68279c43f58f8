import type { PixelFormat } from '../codecs/pixel-format.js';
import type { GrayscaleDescription, Window } from './image-description.js';
import { lookup, type Lut } from './lut.js';

/**
 * The grayscale pipeline of PS3.4 Annex N.2.1 / PS3.3 C.11: stored value → Modality LUT → VOI LUT (window or
 * VOI LUT Sequence) → Presentation LUT (inversion) → 8-bit display value. Every stored value the image can hold
 * is mapped once into a table, then each pixel is one lookup: a 512×512 frame costs a table of at most 65536
 * entries and 262144 lookups.
 */

/** Stored values a frame can hold (PS3.5 §8.1.1): Bits Stored, signed or not. */
export function storedRange(format: PixelFormat): { min: number; max: number } {
  const bits = Math.min(format.bitsStored, 32);
  return format.pixelRepresentation === 1
    ? { min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 }
    : { min: 0, max: 2 ** bits - 1 };
}

/** The stored values of a native frame (little endian), masked to Bits Stored and sign-extended (PS3.5 §8.1.1). */
export function readStoredValues(frame: Uint8Array, format: PixelFormat, out: Int32Array): Int32Array {
  const n = format.rows * format.columns;
  const bits = format.bitsStored;
  const shift = format.highBit + 1 - bits;
  const signed = format.pixelRepresentation === 1;
  const signShift = 32 - bits;
  if (format.bitsAllocated === 1) {
    for (let i = 0; i < n; i++) out[i] = ((frame[i >> 3] as number) >> (i & 7)) & 1;
    return out;
  }
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  if (format.bitsAllocated === 16 && frame.byteOffset % 2 === 0) {
    // The common case, without DataView calls: an aligned view of the words.
    if (signed) {
      const words = new Int16Array(frame.buffer, frame.byteOffset, n);
      if (bits === 16) for (let i = 0; i < n; i++) out[i] = words[i] as number;
      else for (let i = 0; i < n; i++) out[i] = ((((words[i] as number) >>> shift) & mask) << signShift) >> signShift;
    } else {
      const words = new Uint16Array(frame.buffer, frame.byteOffset, n);
      if (bits === 16) for (let i = 0; i < n; i++) out[i] = words[i] as number;
      else for (let i = 0; i < n; i++) out[i] = ((words[i] as number) >>> shift) & mask;
    }
    return out;
  }
  if (format.bitsAllocated === 8) {
    for (let i = 0; i < n; i++) {
      const v = ((frame[i] as number) >>> shift) & mask;
      out[i] = signed ? (v << signShift) >> signShift : v;
    }
  } else if (format.bitsAllocated === 16) {
    for (let i = 0; i < n; i++) {
      const v = (view.getUint16(i * 2, true) >>> shift) & mask;
      out[i] = signed ? (v << signShift) >> signShift : v;
    }
  } else if (format.bitsAllocated === 32) {
    for (let i = 0; i < n; i++) {
      const raw = view.getUint32(i * 4, true);
      const v = bits >= 32 ? raw : (raw >>> shift) & mask;
      out[i] = signed ? (bits >= 32 ? v | 0 : (v << signShift) >> signShift) : v;
    }
  } else {
    throw new Error(`Bits Allocated ${format.bitsAllocated} is not renderable`);
  }
  return out;
}

/**
 * Visits the stored value of every pixel of a native frame; 16-bit words without an intermediate array, other
 * layouts through readStoredValues.
 */
function eachStored(frame: Uint8Array, format: PixelFormat, visit: (value: number, index: number) => void): void {
  const n = format.rows * format.columns;
  const bits = format.bitsStored;
  const shift = format.highBit + 1 - bits;
  const signed = format.pixelRepresentation === 1;
  const signShift = 32 - bits;
  const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  if (format.bitsAllocated === 16 && frame.byteOffset % 2 === 0 && bits === 16 && shift === 0) {
    const words = signed
      ? new Int16Array(frame.buffer, frame.byteOffset, n)
      : new Uint16Array(frame.buffer, frame.byteOffset, n);
    for (let i = 0; i < n; i++) visit(words[i] as number, i);
    return;
  }
  if (format.bitsAllocated === 16 && frame.byteOffset % 2 === 0) {
    const words = new Uint16Array(frame.buffer, frame.byteOffset, n);
    if (signed)
      for (let i = 0; i < n; i++) visit(((((words[i] as number) >>> shift) & mask) << signShift) >> signShift, i);
    else for (let i = 0; i < n; i++) visit(((words[i] as number) >>> shift) & mask, i);
    return;
  }
  const values = readStoredValues(frame, format, new Int32Array(n));
  for (let i = 0; i < n; i++) visit(values[i] as number, i);
}

/** Smallest and largest stored value of a frame, all of them and those that are not padding, in one pass. */
export function frameRange(
  frame: Uint8Array,
  format: PixelFormat,
  padding?: { low: number; high: number },
): { all: { min: number; max: number }; image?: { min: number; max: number } } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let imin = Number.POSITIVE_INFINITY;
  let imax = Number.NEGATIVE_INFINITY;
  const low = padding?.low ?? 1;
  const high = padding?.high ?? 0;
  eachStored(frame, format, (v) => {
    if (v < min) min = v;
    if (v > max) max = v;
    if (v >= low && v <= high) return;
    if (v < imin) imin = v;
    if (v > imax) imax = v;
  });
  const all = min <= max ? { min, max } : { min: 0, max: 0 };
  return imin <= imax ? { all, image: { min: imin, max: imax } } : { all };
}

/** Maps every pixel through a display table (index = stored value − offset) into 8-bit output. */
export function mapFrame(
  frame: Uint8Array,
  format: PixelFormat,
  table: Uint8Array,
  offset: number,
  out: Uint8Array,
): Uint8Array {
  const n = format.rows * format.columns;
  const bits = format.bitsStored;
  if (format.bitsAllocated === 16 && frame.byteOffset % 2 === 0 && bits === 16 && format.highBit === 15) {
    const words =
      format.pixelRepresentation === 1
        ? new Int16Array(frame.buffer, frame.byteOffset, n)
        : new Uint16Array(frame.buffer, frame.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = table[(words[i] as number) - offset] as number;
    return out;
  }
  if (format.bitsAllocated === 16 && frame.byteOffset % 2 === 0 && format.pixelRepresentation === 0) {
    const words = new Uint16Array(frame.buffer, frame.byteOffset, n);
    const shift = format.highBit + 1 - bits;
    const mask = 2 ** bits - 1;
    for (let i = 0; i < n; i++) out[i] = table[(((words[i] as number) >>> shift) & mask) - offset] as number;
    return out;
  }
  eachStored(frame, format, (v, i) => {
    out[i] = table[v - offset] as number;
  });
  return out;
}

const modalityValue = (d: GrayscaleDescription, stored: number): number =>
  'lut' in d.modality ? lookup(d.modality.lut, stored) : stored * d.modality.slope + d.modality.intercept;

/** The range of Modality LUT output over stored values [min, max]. */
export function modalityRange(
  d: GrayscaleDescription,
  stored: { min: number; max: number },
): { min: number; max: number } {
  if (!('lut' in d.modality)) {
    const a = modalityValue(d, stored.min);
    const b = modalityValue(d, stored.max);
    return { min: Math.min(a, b), max: Math.max(a, b) };
  }
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let v = stored.min; v <= stored.max; v++) {
    const m = modalityValue(d, v);
    if (m < min) min = m;
    if (m > max) max = m;
  }
  return { min, max };
}

/** A window as a function from modality value to [0, 1] (PS3.3 C.11.2.1.2, C.11.2.1.3). */
export function windowFunction(w: Window): (x: number) => number {
  const c = w.center;
  if (w.fn === 'SIGMOID') {
    return (x) => 1 / (1 + Math.exp((-4 * (x - c)) / w.width));
  }
  if (w.fn === 'LINEAR_EXACT') {
    const low = c - w.width / 2;
    const high = c + w.width / 2;
    return (x) => (x <= low ? 0 : x > high ? 1 : (x - c) / w.width + 0.5);
  }
  // LINEAR: width ≥ 1; the "− 0.5" and "− 1" keep integer inputs centred (C.11.2.1.2.1).
  const width = Math.max(w.width, 1);
  const low = c - 0.5 - (width - 1) / 2;
  const high = c - 0.5 + (width - 1) / 2;
  return (x) => (x <= low ? 0 : x > high ? 1 : width === 1 ? 1 : (x - (c - 0.5)) / (width - 1) + 0.5);
}

/** What the VOI stage does: a window, a VOI LUT, or (neither in the image, none asked) the frame's value range. */
export type VoiChoice = { window: Window } | { lut: Lut };

/** The window to use when the image has none: the frame's modality values, min to max (as DCMTK's "min-max"). */
export function minMaxWindow(range: { min: number; max: number }): Window {
  return { center: (range.min + range.max) / 2, width: Math.max(range.max - range.min, 1), fn: 'LINEAR_EXACT' };
}

/** The whole pipeline for one stored value: an 8-bit display value (padding → 0, the background). */
export function displayFunction(d: GrayscaleDescription, voi: VoiChoice): (stored: number) => number {
  const voiOf =
    'window' in voi
      ? windowFunction(voi.window)
      : ((lut: Lut) => {
          const top = 2 ** lut.bits - 1;
          return (x: number) => Math.min(lookup(lut, Math.round(x)) / top, 1);
        })(voi.lut);
  const padding = d.padding;
  return (stored) => {
    if (padding && stored >= padding.low && stored <= padding.high) return 0;
    const y = voiOf(modalityValue(d, stored));
    return Math.round((d.inverted ? 1 - y : y) * 255);
  };
}

/** The display value of every stored value in `stored` (index = value − stored.min). */
export function displayTable(
  d: GrayscaleDescription,
  voi: VoiChoice,
  stored: { min: number; max: number },
): Uint8Array {
  const size = stored.max - stored.min + 1;
  const table = new Uint8Array(size);
  const display = displayFunction(d, voi);
  for (let i = 0; i < size; i++) table[i] = display(stored.min + i);
  return table;
}
