import type { PixelFormat } from '../codecs/pixel-format.js';
import type { GrayscaleDescription, RenderDescription, Window } from './image-description.js';
import {
  displayFunction,
  displayTable,
  frameRange,
  mapFrame,
  minMaxWindow,
  modalityRange,
  readStoredValues,
  storedRange,
  type VoiChoice,
} from './grayscale.js';
import { toRgb8 } from './color.js';

/** A frame ready for rendering: its native samples (decoded if it was compressed) and what they are. */
export interface DecodedFrame {
  format: PixelFormat;
  /** Photometric Interpretation of `samples` (a decoder may have turned YBR into RGB). */
  photometric: string;
  samples: Uint8Array;
  /** Grayscale only: the stored values' range, with and without padding (computed once per frame, when needed). */
  range?: { all: { min: number; max: number }; image?: { min: number; max: number } };
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

/** Display tables of at most this many entries (16 bits stored) are built once per window and kept. */
const MAX_TABLE = 1 << 16;

const rangeOf = (frame: DecodedFrame, description: GrayscaleDescription): NonNullable<DecodedFrame['range']> => {
  frame.range ??= frameRange(frame.samples, frame.format, description.padding);
  return frame.range;
};

/** The VOI the request or the image chooses (PS3.4 N.2.1.1): the request's window, the first window, the first VOI LUT, else min/max. */
export function chooseVoi(description: GrayscaleDescription, frame: DecodedFrame, requested?: Window): VoiChoice {
  if (requested) return { window: requested };
  const first = description.windows[0];
  if (first) return { window: first };
  const lut = description.voiLuts[0];
  if (lut) return { lut };
  const range = rangeOf(frame, description);
  return { window: minMaxWindow(modalityRange(description, range.image ?? range.all)) };
}

const voiKey = (voi: VoiChoice): string =>
  'window' in voi ? `w${voi.window.center},${voi.window.width},${voi.window.fn}` : 'lut';

/**
 * Display tables by description and VOI: the same image at the same window (every request for a series' frames)
 * maps through a table built once. Weakly held: a description dropped from its cache takes its tables along.
 */
const tables = new WeakMap<GrayscaleDescription, Map<string, Uint8Array>>();

function tableFor(description: GrayscaleDescription, voi: VoiChoice, stored: { min: number; max: number }): Uint8Array {
  let byVoi = tables.get(description);
  if (!byVoi) {
    byVoi = new Map();
    tables.set(description, byVoi);
  }
  const key = `${voiKey(voi)}|${stored.min}`;
  let table = byVoi.get(key);
  if (!table) {
    if (byVoi.size >= 16) byVoi.delete(byVoi.keys().next().value as string); // requests sweeping windows: keep the last few
    table = displayTable(description, voi, stored);
    byVoi.set(key, table);
  }
  return table;
}

/** Renders one frame to 8-bit display pixels (PS3.4 Annex N.2). */
export function renderFrame(
  frame: DecodedFrame,
  description: RenderDescription,
  requestedWindow?: Window,
): RenderedFrame {
  const { format } = frame;
  const width = format.columns;
  const height = format.rows;
  if (description.kind === 'color') {
    return { data: toRgb8(frame.samples, format, frame.photometric, description.palette), width, height, channels: 3 };
  }
  const voi = chooseVoi(description, frame, requestedWindow);
  const out = new Uint8Array(width * height);
  const possible = storedRange(format);
  if (possible.max - possible.min + 1 <= MAX_TABLE) {
    // Every value the image can hold: one table per window, no pass over the pixels to find their range.
    mapFrame(frame.samples, format, tableFor(description, voi, possible), possible.min, out);
  } else {
    // More than 16 bits stored: a table over the values present, or pixel by pixel when they span too much.
    const range = rangeOf(frame, description).all;
    if (range.max - range.min + 1 <= 1 << 20) {
      mapFrame(frame.samples, format, displayTable(description, voi, range), range.min, out);
    } else {
      const display = displayFunction(description, voi);
      const values = readStoredValues(frame.samples, format, new Int32Array(width * height));
      for (let i = 0; i < out.length; i++) out[i] = display(values[i] as number);
    }
  }
  return { data: out, width, height, channels: 1, ...('window' in voi ? { window: voi.window } : {}) };
}
