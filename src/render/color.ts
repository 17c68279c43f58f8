import type { PixelFormat } from '../codecs/pixel-format.js';
import { interleave } from '../codecs/planar.js';
import { lookup, type Lut } from './lut.js';
import { readStoredValues } from './grayscale.js';

/**
 * Colour frames to 8-bit RGB (PS3.3 C.7.6.3.1.2): RGB as is (colour-by-plane interleaved first), YBR_FULL and
 * YBR_FULL_422 converted with the full-range equations, YBR_PARTIAL_422/420 with the partial-range ones,
 * PALETTE COLOR through its LUTs. Samples of more than 8 bits keep their top 8.
 */

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** 8-bit samples of a colour frame, colour-by-pixel (3 per pixel), full resolution. */
function samples8(frame: Uint8Array, format: PixelFormat): Uint8Array {
  const pixels = format.rows * format.columns;
  let data = frame;
  if (format.bitsAllocated === 16) {
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const shift = Math.max(format.bitsStored - 8, 0);
    const count = Math.min(frame.byteLength >> 1, pixels * 3);
    data = new Uint8Array(count);
    for (let i = 0; i < count; i++) data[i] = Math.min(view.getUint16(i * 2, true) >> shift, 255);
  } else if (format.bitsAllocated !== 8) {
    throw new Error(`colour with Bits Allocated ${format.bitsAllocated} is not renderable`);
  }
  if (format.planarConfiguration === 1) data = interleave(data, pixels, 1);
  return data;
}

/** YBR_FULL_422 / YBR_PARTIAL_422 stored uncompressed: Y1 Y2 Cb Cr per pair of pixels (PS3.3 C.7.6.3.1.2). */
function upsample422(frame: Uint8Array, format: PixelFormat): Uint8Array {
  const out = new Uint8Array(format.rows * format.columns * 3);
  const cols = format.columns;
  let src = 0;
  for (let y = 0; y < format.rows; y++) {
    for (let x = 0; x < cols; x += 2) {
      const y1 = frame[src] as number,
        y2 = frame[src + 1] as number,
        cb = frame[src + 2] as number,
        cr = frame[src + 3] as number;
      src += 4;
      const o = (y * cols + x) * 3;
      out[o] = y1;
      out[o + 1] = cb;
      out[o + 2] = cr;
      if (x + 1 < cols) {
        out[o + 3] = y2;
        out[o + 4] = cb;
        out[o + 5] = cr;
      }
    }
  }
  return out;
}

function ybrToRgb(ybr: Uint8Array, partial: boolean): Uint8Array {
  const out = new Uint8Array(ybr.length);
  for (let i = 0; i < ybr.length; i += 3) {
    let y = ybr[i] as number;
    const cb = (ybr[i + 1] as number) - 128;
    const cr = (ybr[i + 2] as number) - 128;
    if (partial) {
      // Y in 16–235, Cb/Cr in 16–240 (PS3.3 C.7.6.3.1.2, ITU-R BT.601).
      y = 1.1644 * (y - 16);
      out[i] = clamp(y + 1.596 * cr);
      out[i + 1] = clamp(y - 0.3918 * cb - 0.813 * cr);
      out[i + 2] = clamp(y + 2.0172 * cb);
    } else {
      out[i] = clamp(y + 1.402 * cr);
      out[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
      out[i + 2] = clamp(y + 1.772 * cb);
    }
  }
  return out;
}

function paletteToRgb(
  frame: Uint8Array,
  format: PixelFormat,
  palette: { red: Lut; green: Lut; blue: Lut },
): Uint8Array {
  const n = format.rows * format.columns;
  const indices = readStoredValues(frame, format, new Int32Array(n));
  const out = new Uint8Array(n * 3);
  // 16-bit entries keep their top byte; 8-bit entries are used as they are.
  const tables = [palette.red, palette.green, palette.blue].map((lut) => {
    const shift = lut.bits > 8 ? 8 : 0;
    return (index: number): number => lookup(lut, index) >> shift;
  });
  const [r, g, b] = tables as [(i: number) => number, (i: number) => number, (i: number) => number];
  for (let i = 0; i < n; i++) {
    const v = indices[i] as number;
    out[i * 3] = r(v);
    out[i * 3 + 1] = g(v);
    out[i * 3 + 2] = b(v);
  }
  return out;
}

/** A colour frame as 8-bit RGB, colour-by-pixel. `photometric` is what the (decoded) samples are. */
export function toRgb8(
  frame: Uint8Array,
  format: PixelFormat,
  photometric: string,
  palette?: { red: Lut; green: Lut; blue: Lut },
): Uint8Array {
  if (photometric === 'PALETTE COLOR') {
    if (!palette) throw new Error('PALETTE COLOR without a palette');
    return paletteToRgb(frame, format, palette);
  }
  if (photometric === 'YBR_FULL_422' || photometric === 'YBR_PARTIAL_422') {
    // Uncompressed 4:2:2 has half as many chroma samples; decoded data is already full resolution.
    const expected422 = format.rows * Math.ceil(format.columns / 2) * 4;
    const full =
      frame.byteLength <= expected422 && format.bitsAllocated === 8
        ? upsample422(frame, format)
        : samples8(frame, format);
    return ybrToRgb(full, photometric === 'YBR_PARTIAL_422');
  }
  const data = samples8(frame, format);
  if (photometric === 'YBR_FULL') return ybrToRgb(data, false);
  if (photometric === 'YBR_PARTIAL_420') return ybrToRgb(data, true);
  if (photometric === 'RGB' || photometric === 'YBR_ICT' || photometric === 'YBR_RCT') return data;
  throw new Error(`Photometric Interpretation ${photometric} is not renderable`);
}
