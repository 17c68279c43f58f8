import type { PixelFormat } from './pixel-format.js';

/** One unit of work for a codec worker: a frame to decode from, or encode into, a transfer syntax. */
export interface CodecTask {
  op: 'decode' | 'encode';
  transferSyntaxUid: string;
  format: PixelFormat;
  data: Uint8Array;
}

export interface CodecResult {
  data: Uint8Array;
  photometricInterpretation: string;
}
