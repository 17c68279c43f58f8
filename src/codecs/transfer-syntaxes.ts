import { TransferSyntax as TS } from '../dicom/transfer-syntax.js';

/** How the frames of a transfer syntax are compressed: the codec family that decodes or encodes them. */
export type CodecFamily = 'rle' | 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k' | 'jpeg-xl';

/** Compressed transfer syntaxes whose frames we decode (PS3.5 §8.2, §A.4), by codec. */
export const DECODERS: Readonly<Record<string, CodecFamily>> = {
  [TS.RLELossless]: 'rle',
  [TS.JPEGBaseline8Bit]: 'jpeg',
  [TS.JPEGExtended12Bit]: 'jpeg',
  [TS.JPEGLossless]: 'jpeg',
  [TS.JPEGLosslessSV1]: 'jpeg',
  [TS.JPEGLSLossless]: 'jpeg-ls',
  [TS.JPEGLSNearLossless]: 'jpeg-ls',
  [TS.JPEG2000Lossless]: 'jpeg2000',
  [TS.JPEG2000]: 'jpeg2000',
  [TS.JPEG2000MCLossless]: 'jpeg2000',
  [TS.JPEG2000MC]: 'jpeg2000',
  [TS.HTJ2KLossless]: 'htj2k',
  [TS.HTJ2KLosslessRPCL]: 'htj2k',
  [TS.HTJ2K]: 'htj2k',
  [TS.JPEGXLLossless]: 'jpeg-xl',
  [TS.JPEGXLJPEGRecompression]: 'jpeg-xl',
  [TS.JPEGXL]: 'jpeg-xl',
};

/**
 * Compressed transfer syntaxes we encode into, all lossless: the gateway never makes a lossy copy on its own
 * (PS3.5 §8.2 and PS3.3 C.7.6.1.1.5 — lossy compression is a decision about the image, not a transport detail).
 */
export const LOSSLESS_ENCODERS: Readonly<Record<string, CodecFamily>> = {
  [TS.RLELossless]: 'rle',
  [TS.JPEGLosslessSV1]: 'jpeg',
  [TS.JPEGLSLossless]: 'jpeg-ls',
  [TS.JPEG2000Lossless]: 'jpeg2000',
  [TS.HTJ2KLossless]: 'htj2k',
  [TS.HTJ2KLosslessRPCL]: 'htj2k',
};

/** Uncompressed transfer syntaxes whose pixel data is native (PS3.5 §8.1). */
export const NATIVE_SYNTAXES: ReadonlySet<string> = new Set([
  TS.ImplicitVRLittleEndian,
  TS.ExplicitVRLittleEndian,
  TS.ExplicitVRBigEndian,
  TS.DeflatedExplicitVRLittleEndian,
]);

/** Uncompressed transfer syntaxes we write (the default of application/dicom first, PS3.18 §8.7.3.5.2). */
export const NATIVE_TARGETS: readonly string[] = [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian];

/** Every transfer syntax a stored instance can be converted into, as long as its frames can be decoded. */
export const CONVERSION_TARGETS: readonly string[] = [...NATIVE_TARGETS, ...Object.keys(LOSSLESS_ENCODERS)];

/** Lossy transfer syntaxes (their frames are approximations of the original). */
export const LOSSY_SYNTAXES: ReadonlySet<string> = new Set([
  TS.JPEGBaseline8Bit,
  TS.JPEGExtended12Bit,
  TS.JPEGLSNearLossless,
  TS.JPEG2000,
  TS.JPEG2000MC,
  TS.HTJ2K,
  TS.JPEGXL,
  TS.JPEGXLJPEGRecompression,
  TS.MPEG2MPML,
  TS.MPEG2MPMLF,
  TS.MPEG2MPHL,
  TS.MPEG2MPHLF,
  TS.MPEG4HP41,
  TS.MPEG4HP41F,
  TS.MPEG4HP41BD,
  TS.MPEG4HP41BDF,
  TS.MPEG4HP422D,
  TS.MPEG4HP422DF,
  TS.MPEG4HP423D,
  TS.MPEG4HP423DF,
  TS.MPEG4HP42STEREO,
  TS.MPEG4HP42STEREOF,
  TS.HEVCMP51,
  TS.HEVCM10P51,
]);

/** Video transfer syntaxes: the whole pixel data is one stream, not frames we can decode. */
export const isVideoSyntax = (ts: string): boolean => /^1\.2\.840\.10008\.1\.2\.4\.1(0[0-8])(\.1)?$/.test(ts);

export const canDecode = (ts: string): boolean => NATIVE_SYNTAXES.has(ts) || ts in DECODERS;
