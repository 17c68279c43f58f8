import type { PixelFormat } from '../codecs/pixel-format.js';
import type { GrayscaleDescription, RenderDescription, Window } from './image-description.js';
import { applyTable, displayFunction, displayTable, minMaxWindow, modalityRange, readStoredValues, storedMinMax, type VoiChoice } from './grayscale.js';
import { toRgb8 } from './color.js';

/** A frame ready for rendering: its native samples (decoded if it was compressed) and what they are. */
export interface DecodedFrame {
  format: PixelFormat;
  /** Photometric Interpretation of `samples` (a decoder may have turned YBR into RGB). */
  photometric: string;
  samples: Uint8Array;
  /** Grayscale only: stored values, masked and sign-extended, and their range (computed once per frame). */
  stored?: { values: Int32Array; min: number; max: number; minNoPadding?: number; maxNoPadding?: number };
}

/** 8-bit pixels: one channel (grayscale) or three (RGB), colour-by-pixel. */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

export interface RenderedFrame extends Pixels {
  /** The window applied, for annotation (undefined for colour or a VOI LUT). */
  window?: Window;
}

/** Tables larger than this are not built; the few such images (more than 20 bits in use) are mapped pixel by pixel. */
const MAX_TABLE = 1 << 20;

/** Prepares a grayscale frame's stored values once; later renders (other windows) reuse them. */
export function withStoredValues(frame: DecodedFrame, description: GrayscaleDescription): Required<Pick<DecodedFrame, 'stored'>>['stored'] {
  if (frame.stored) return frame.stored;
  const values = readStoredValues(frame.samples, frame.format, new Int32Array(frame.format.rows * frame.format.columns));
  const all = storedMinMax(values) ?? { min: 0, max: 0 };
  const image = description.padding ? storedMinMax(values, description.padding) : all;
  frame.stored = { values, min: all.min, max: all.max, ...(image ? { minNoPadding: image.min, maxNoPadding: image.max } : {}) };
  return frame.stored;
}

/** The VOI the request or the image chooses (PS3.4 N.2.1.1): the request's window, the first window, the first VOI LUT, else min/max. */
export function chooseVoi(description: GrayscaleDescription, frame: DecodedFrame, requested?: Window): VoiChoice {
  if (requested) return { window: requested };
  const first = description.windows[0];
  if (first) return { window: first };
  const lut = description.voiLuts[0];
  if (lut) return { lut };
  const stored = withStoredValues(frame, description);
  const range = stored.minNoPadding !== undefined && stored.maxNoPadding !== undefined ? { min: stored.minNoPadding, max: stored.maxNoPadding } : { min: stored.min, max: stored.max };
  return { window: minMaxWindow(modalityRange(description, range)) };
}

/** Renders one frame to 8-bit display pixels (PS3.4 Annex N.2). */
export function renderFrame(frame: DecodedFrame, description: RenderDescription, requestedWindow?: Window): RenderedFrame {
  const { format } = frame;
  const width = format.columns;
  const height = format.rows;
  if (description.kind === 'color') {
    return { data: toRgb8(frame.samples, format, frame.photometric, description.palette), width, height, channels: 3 };
  }
  const stored = withStoredValues(frame, description);
  const voi = chooseVoi(description, frame, requestedWindow);
  const out = new Uint8Array(width * height);
  const span = { min: stored.min, max: stored.max };
  if (span.max - span.min + 1 <= MAX_TABLE) {
    applyTable(stored.values, displayTable(description, voi, span), span.min, out);
  } else {
    const display = displayFunction(description, voi); // very wide ranges (more than 20 bits in use): pixel by pixel
    for (let i = 0; i < out.length; i++) out[i] = display(stored.values[i] as number);
  }
  return { data: out, width, height, channels: 1, ...('window' in voi ? { window: voi.window } : {}) };
}
