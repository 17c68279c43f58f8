import type { CodecPool } from '../codecs/codec-pool.js';
import { encodeProblem, type PixelFormat } from '../codecs/pixel-format.js';
import { DECODERS, LOSSLESS_ENCODERS } from '../codecs/transfer-syntaxes.js';
import { deinterleave } from '../codecs/planar.js';
import { colourByPixel } from '../codecs/transcode.js';
import { TransferSyntax } from '../dicom/transfer-syntax.js';
import { FRAME_MEDIA_TYPE, type FrameLocator } from '../codecs/frames.js';

/** One acceptable representation of a frame: a media type with or without a transfer syntax ('*': as stored). */
export interface FrameOption {
  mediaType: string;
  transferSyntax: string | undefined;
}

/** How the frames of one instance will be sent: the part media type, its transfer syntax, and how to make frame n. */
export interface FramePlan {
  mediaType: string;
  transferSyntaxUid: string;
  /** What is done to each frame. */
  work: 'as stored' | 'decoded' | 'encoded';
  produce(n: number): Promise<Uint8Array>;
}

/** The syntax an image media type stands for when the request names none (PS3.18 Table 8.7.3-5). */
const DEFAULT_SYNTAX_OF_MEDIA_TYPE: Readonly<Record<string, string>> = {
  'image/jpeg': TransferSyntax.JPEGBaseline8Bit,
  'image/jls': TransferSyntax.JPEGLSLossless,
  'image/jp2': TransferSyntax.JPEG2000Lossless,
  'image/jpx': TransferSyntax.JPEG2000MCLossless,
  'image/jphc': TransferSyntax.HTJ2KLossless,
  'image/dicom-rle': TransferSyntax.RLELossless,
  'image/jxl': TransferSyntax.JPEGXLLossless,
};

const NATIVE = 'application/octet-stream';
const ELE = TransferSyntax.ExplicitVRLittleEndian;

/**
 * Picks the first acceptable representation the gateway can produce for this instance's frames: the stored
 * bitstream, native samples (decoded when stored compressed), or a lossless re-encoding. Only the frames asked
 * for are decoded, one at a time, in the codec workers. Undefined: nothing acceptable (→ 406).
 */
export function planFrames(
  locator: FrameLocator,
  format: PixelFormat,
  options: readonly FrameOption[],
  codecs: CodecPool,
): FramePlan | undefined {
  const stored = locator.transferSyntaxUid;
  const storedMedia = locator.encapsulated ? (FRAME_MEDIA_TYPE[stored] ?? NATIVE) : NATIVE;
  const asStored = (mediaType: string): FramePlan => ({
    mediaType,
    transferSyntaxUid: locator.encapsulated ? stored : ELE,
    work: 'as stored',
    produce: (n) => Promise.resolve(locator.read(n)),
  });
  const canDecode = !locator.encapsulated || stored in DECODERS;
  const native = (): FramePlan | undefined => {
    if (!locator.encapsulated) return asStored(NATIVE);
    if (!canDecode) return undefined;
    // Native frames follow the instance's Planar Configuration; decoders give colour-by-pixel.
    const planar = format.samplesPerPixel === 3 && format.planarConfiguration === 1;
    return {
      mediaType: NATIVE,
      transferSyntaxUid: ELE,
      work: 'decoded',
      produce: async (n) => {
        const { data } = await codecs.decode(stored, format, locator.read(n));
        return planar ? deinterleave(data, format.rows * format.columns, format.bitsAllocated > 8 ? 2 : 1) : data;
      },
    };
  };
  const encoded = (target: string): FramePlan | undefined => {
    if (!(target in LOSSLESS_ENCODERS) || !canDecode) return undefined;
    if (encodeProblem(format, !locator.encapsulated)) return undefined;
    return {
      mediaType: FRAME_MEDIA_TYPE[target] ?? NATIVE,
      transferSyntaxUid: target,
      work: 'encoded',
      produce: async (n) => {
        let samples: Uint8Array = colourByPixel(locator.read(n), format);
        let photometric = format.photometricInterpretation;
        if (locator.encapsulated) {
          const decoded = await codecs.decode(stored, format, samples);
          samples = decoded.data;
          photometric = decoded.photometricInterpretation;
        }
        return (
          await codecs.encode(
            target,
            { ...format, photometricInterpretation: photometric, planarConfiguration: 0 },
            samples,
          )
        ).data;
      },
    };
  };

  for (const { mediaType, transferSyntax: ts } of options) {
    let plan: FramePlan | undefined;
    if (mediaType === '*/*' || mediaType === NATIVE) {
      if (ts === '*' || (ts === undefined && mediaType === '*/*')) plan = asStored(NATIVE);
      else if (ts === undefined || ts === ELE) plan = native();
      else if (ts === stored && locator.encapsulated) plan = asStored(NATIVE);
      else plan = encoded(ts);
    } else if (mediaType === storedMedia && (ts === undefined || ts === '*' || ts === stored)) {
      plan = asStored(mediaType);
    } else if (ts !== '*') {
      const target = ts ?? DEFAULT_SYNTAX_OF_MEDIA_TYPE[mediaType];
      if (target && FRAME_MEDIA_TYPE[target] === mediaType) plan = encoded(target);
    }
    if (plan) return plan;
  }
  return undefined;
}
