import sharp from 'sharp';
import type { OverlayOptions, Sharp } from 'sharp';
import { createRequire } from 'node:module';
import type { Palette } from 'gifenc';
import type { Pixels } from './render-frame.js';

// libvips keeps its own cache of operations and their pixels (50 MB, 100 items by default), which no budget of
// ours counts: a storm of distinct windows filled it. The gateway caches what it renders itself (render caches).
sharp.cache(false);

/** The rendered media types (PS3.18 §8.7.4, Table 8.7.4-1, the three the source statement serves). */
export type ImageMediaType = 'image/jpeg' | 'image/png' | 'image/gif';

/**
 * The viewport of PS3.18 §8.3.5.1.3: an output of exactly `width`×`height` into which the source region
 * (default: the whole image) is scaled, aspect ratio kept, black elsewhere. A negative region width or height
 * flips the image along that axis (the region then lies left of / above sx, sy).
 */
export interface Viewport {
  width: number;
  height: number;
  region?: { x?: number; y?: number; width?: number; height?: number };
}

export interface OutputOptions {
  mediaType: ImageMediaType;
  /** JPEG quality 1–100. */
  quality: number;
  viewport?: Viewport;
  /** Without a viewport: scale down (never up) to fit within this box, aspect kept (thumbnails). */
  fit?: { width: number; height: number };
  /** Drawn over the final image (burned-in annotation). */
  overlays?: OverlayOptions[];
  /** Embed an sRGB ICC profile (iccprofile=yes|srgb); none otherwise. */
  srgbProfile?: boolean;
}

export class ViewportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ViewportError';
  }
}

const BLACK = { r: 0, g: 0, b: 0, alpha: 1 };

/** The source rectangle of a viewport region and whether it flips, clipped to the image. */
function sourceRegion(
  pixels: Pixels,
  region: NonNullable<Viewport['region']>,
): { left: number; top: number; width: number; height: number; flop: boolean; flip: boolean } {
  const axis = (
    start: number | undefined,
    size: number | undefined,
    full: number,
    name: string,
  ): [number, number, boolean] => {
    const s = start ?? 0;
    const len = size ?? full - s;
    const from = len < 0 ? s + len : s;
    const to = len < 0 ? s : s + len;
    const a = Math.max(0, Math.min(from, full));
    const b = Math.max(0, Math.min(to, full));
    if (b - a < 1) throw new ViewportError(`the viewport region is outside the ${full}-pixel ${name} of the image`);
    return [a, b - a, len < 0];
  };
  const [left, width, flop] = axis(region.x, region.width, pixels.width, 'width');
  const [top, height, flip] = axis(region.y, region.height, pixels.height, 'height');
  return { left, top, width, height, flop, flip };
}

/** The image after viewport or fit, as a sharp pipeline (still to be encoded). */
function geometry(pixels: Pixels, options: Pick<OutputOptions, 'viewport' | 'fit'>): Sharp {
  let img = sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: pixels.channels } });
  const { viewport, fit } = options;
  if (viewport) {
    if (viewport.region) {
      const r = sourceRegion(pixels, viewport.region);
      if (r.left !== 0 || r.top !== 0 || r.width !== pixels.width || r.height !== pixels.height)
        img = img.extract({ left: r.left, top: r.top, width: r.width, height: r.height });
      if (r.flop) img = img.flop();
      if (r.flip) img = img.flip();
    }
    return img.resize(viewport.width, viewport.height, { fit: 'contain', background: BLACK });
  }
  if (fit && (pixels.width > fit.width || pixels.height > fit.height))
    img = img.resize(fit.width, fit.height, { fit: 'inside' });
  return img;
}

/** The size of the output image for these pixels and options (annotations are laid out for it). */
export function outputSize(
  pixels: { width: number; height: number },
  options: Pick<OutputOptions, 'viewport' | 'fit'>,
): { width: number; height: number } {
  if (options.viewport) return { width: options.viewport.width, height: options.viewport.height };
  const fit = options.fit;
  if (!fit || (pixels.width <= fit.width && pixels.height <= fit.height))
    return { width: pixels.width, height: pixels.height };
  const scale = Math.min(fit.width / pixels.width, fit.height / pixels.height);
  return {
    width: Math.max(1, Math.round(pixels.width * scale)),
    height: Math.max(1, Math.round(pixels.height * scale)),
  };
}

/** Renders pixels into the requested media type (PS3.18 §8.3.5). */
export async function encodeImage(pixels: Pixels, options: OutputOptions): Promise<Buffer> {
  let img = geometry(pixels, options);
  if (options.overlays?.length) {
    // Overlays are drawn at the final size, so the geometry must be applied first.
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    img = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels as 1 | 3 } }).composite(
      options.overlays,
    );
  }
  if (pixels.channels === 1) img = img.toColourspace('b-w'); // keep one channel: 1-channel input would become RGB
  if (options.srgbProfile) img = img.withIccProfile('srgb');
  switch (options.mediaType) {
    // No Huffman optimisation: a second pass over the image for a file about 5 % smaller.
    case 'image/jpeg':
      return img.jpeg({ quality: options.quality, chromaSubsampling: '4:2:0', optimiseCoding: false }).toBuffer();
    case 'image/png':
      return img.png({ compressionLevel: 4, adaptiveFiltering: false }).toBuffer();
    case 'image/gif': {
      const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
      return encodeGif([{ data, width: info.width, height: info.height, channels: info.channels === 1 ? 1 : 3 }], []);
    }
  }
}

// gifenc is CommonJS with an ESM build lacking a default export: load the CommonJS one everywhere.
const { GIFEncoder, quantize, applyPalette } = createRequire(import.meta.url)('gifenc') as typeof import('gifenc');

const GRAYS: Palette = Array.from({ length: 256 }, (_, i) => [i, i, i]);

function toRgba(p: Pixels): Uint8Array {
  const n = p.width * p.height;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    if (p.channels === 1) {
      const v = p.data[i] as number;
      out[o] = v;
      out[o + 1] = v;
      out[o + 2] = v;
    } else {
      out[o] = p.data[i * 3] as number;
      out[o + 1] = p.data[i * 3 + 1] as number;
      out[o + 2] = p.data[i * 3 + 2] as number;
    }
    out[o + 3] = 255;
  }
  return out;
}

/**
 * A GIF of one or more frames (an animated GIF for a cine: `delaysMs` per frame, looping). Grayscale frames use
 * the 256 grays exactly (lossless for 8-bit grayscale); colour frames are quantised to 256 colours.
 */
export function encodeGif(frames: Pixels[], delaysMs: number[]): Buffer {
  const gif = GIFEncoder();
  frames.forEach((frame, i) => {
    const delay = Math.max(20, Math.round(delaysMs[i] ?? delaysMs[0] ?? 100));
    if (frame.channels === 1) {
      gif.writeFrame(frame.data, frame.width, frame.height, { palette: GRAYS, delay, repeat: 0 });
    } else {
      const rgba = toRgba(frame);
      const palette = quantize(rgba, 256);
      gif.writeFrame(applyPalette(rgba, palette), frame.width, frame.height, { palette, delay, repeat: 0 });
    }
  });
  gif.finish();
  const bytes = gif.bytes();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Pixels after viewport or fit (for an animated GIF whose frames are encoded together). */
export async function transformPixels(
  pixels: Pixels,
  options: Pick<OutputOptions, 'viewport' | 'fit' | 'overlays'>,
): Promise<Pixels> {
  let img = geometry(pixels, options);
  if (options.overlays?.length) {
    const first = await img.raw().toBuffer({ resolveWithObject: true });
    img = sharp(first.data, {
      raw: { width: first.info.width, height: first.info.height, channels: first.info.channels as 1 | 3 },
    }).composite(options.overlays);
  }
  if (pixels.channels === 1) img = img.toColourspace('b-w');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels === 1 ? 1 : 3 };
}
