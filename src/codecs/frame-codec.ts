import dcmjsCodecs from 'dcmjs-codecs';
import type { PixelFormat } from './pixel-format.js';
import { DECODERS, LOSSLESS_ENCODERS, type CodecFamily } from './transfer-syntaxes.js';
import { TransferSyntax as TS } from '../dicom/transfer-syntax.js';
import { interleave } from './planar.js';

/**
 * Decoding and encoding of one frame, synchronously, with the WebAssembly codecs of dcmjs-codecs (IJG libjpeg
 * 8/12/16-bit, CharLS, OpenJPEG, OpenJPH, libjxl, RLE). Runs inside the codec workers (codec-worker.ts), never on
 * the event loop: a JPEG 2000 frame takes ~40 ms.
 */

const { NativeCodecs, Context } = dcmjsCodecs;

/** A frame as native samples: little endian, colour-by-pixel, and what its samples now mean. */
export interface CodecOutput {
  data: Uint8Array;
  photometricInterpretation: string;
}

let ready: Promise<void> | undefined;

/** Loads the WebAssembly module once per thread. */
export function initCodecs(wasmPath: string): Promise<void> {
  ready ??= NativeCodecs.initializeAsync({
    webAssemblyModulePathOrUrl: wasmPath,
    logCodecsInfo: false,
    logCodecsTrace: false,
  });
  return ready;
}

function contextFor(
  format: PixelFormat,
  buffers: { encodedBuffer?: Uint8Array; decodedBuffer?: Uint8Array },
  photometric = format.photometricInterpretation,
): InstanceType<typeof Context> {
  return new Context({
    width: format.columns,
    height: format.rows,
    bitsAllocated: format.bitsAllocated,
    bitsStored: format.bitsStored,
    samplesPerPixel: format.samplesPerPixel,
    pixelRepresentation: format.pixelRepresentation,
    planarConfiguration: format.planarConfiguration,
    photometricInterpretation: photometric,
    ...buffers,
  });
}

/**
 * What the decoded samples are (PS3.5 §8.2): JPEG lossy YBR is converted to RGB by the decoder, JPEG 2000
 * reverses its component transform (YBR_ICT/YBR_RCT → RGB), subsampled YBR comes out at full resolution.
 */
function decodedPhotometric(family: CodecFamily, photometric: string): string {
  if (photometric === 'YBR_ICT' || photometric === 'YBR_RCT') return 'RGB';
  if (family === 'jpeg' && photometric.startsWith('YBR_')) return 'RGB';
  if (/^YBR_(FULL|PARTIAL)_42[02]$/.test(photometric)) return 'YBR_FULL';
  return photometric;
}

/** Decodes one compressed frame (its bitstream, fragments joined) to native samples. */
export function decodeFrame(transferSyntaxUid: string, format: PixelFormat, encoded: Uint8Array): CodecOutput {
  const family = DECODERS[transferSyntaxUid];
  if (!family) throw new Error(`no decoder for transfer syntax ${transferSyntaxUid}`);
  const context = contextFor(format, { encodedBuffer: encoded });
  let decoded: InstanceType<typeof Context>;
  switch (family) {
    case 'rle':
      decoded = NativeCodecs.decodeRle(context);
      break;
    case 'jpeg':
      decoded = NativeCodecs.decodeJpeg(context, {
        convertColorspaceToRgb: format.photometricInterpretation.startsWith('YBR_'),
      });
      break;
    case 'jpeg-ls':
      decoded = NativeCodecs.decodeJpegLs(context);
      break;
    case 'jpeg2000':
      decoded = NativeCodecs.decodeJpeg2000(context);
      break;
    case 'htj2k':
      decoded = NativeCodecs.decodeHtJpeg2000(context);
      break;
    case 'jpeg-xl':
      decoded = NativeCodecs.decodeJpegXl(context);
      break;
  }
  let data = decoded.getDecodedBuffer();
  if (!data) throw new Error('the decoder returned no pixels');
  const bytesPerSample = format.bitsAllocated > 8 ? 2 : 1;
  const expected = format.rows * format.columns * format.samplesPerPixel * bytesPerSample;
  if (data.length < expected)
    throw new Error(
      `the decoder returned ${data.length} bytes, a ${format.columns}×${format.rows} frame needs ${expected}`,
    );
  data = data.slice(0, expected); // a copy: the decoder's memory is reused by the next call
  if (format.samplesPerPixel === 3 && decoded.getPlanarConfiguration() === 1)
    data = interleave(data, format.rows * format.columns, bytesPerSample);
  return { data, photometricInterpretation: decodedPhotometric(family, format.photometricInterpretation) };
}

/**
 * Encodes native colour-by-pixel samples losslessly (LOSSLESS_ENCODERS). The photometric interpretation stays
 * what it was: no colour transform is applied, so RGB stays RGB (allowed for every target, PS3.5 §8.2).
 */
export function encodeFrame(transferSyntaxUid: string, format: PixelFormat, native: Uint8Array): CodecOutput {
  const family = LOSSLESS_ENCODERS[transferSyntaxUid];
  if (!family) throw new Error(`no lossless encoder for transfer syntax ${transferSyntaxUid}`);
  const context = contextFor({ ...format, planarConfiguration: 0 }, { decodedBuffer: native });
  let encoded: InstanceType<typeof Context>;
  switch (family) {
    case 'rle':
      encoded = NativeCodecs.encodeRle(context);
      break;
    case 'jpeg':
      encoded = NativeCodecs.encodeJpeg(context, { lossy: false, predictor: 1, pointTransform: 0 });
      break;
    case 'jpeg-ls':
      encoded = NativeCodecs.encodeJpegLs(context, { lossy: false });
      break;
    case 'jpeg2000':
      encoded = NativeCodecs.encodeJpeg2000(context, { lossy: false });
      break;
    case 'htj2k':
      encoded = NativeCodecs.encodeHtJpeg2000(context, {
        lossy: false,
        ...(transferSyntaxUid === TS.HTJ2KLosslessRPCL
          ? { progressionOrder: dcmjsCodecs.constants.Jpeg2000ProgressionOrder.Rpcl }
          : {}),
      });
      break;
    default:
      throw new Error(`no lossless encoder for ${family}`);
  }
  const data = encoded.getEncodedBuffer();
  if (!data) throw new Error('the encoder returned nothing');
  return {
    data: data.slice(),
    photometricInterpretation: encoded.getPhotometricInterpretation() ?? format.photometricInterpretation,
  };
}
