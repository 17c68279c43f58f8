import { Dataset } from '../dicom/dataset.js';
import { delimiter } from '../dicom/dataset-codec.js';
import { encodeFileMetaHeader } from '../dicom/part10.js';
import type { StoredHeader } from '../dicom/part10-reader.js';
import { writeStoredDataset, type ReplacementValue } from '../dicom/part10-writer.js';
import { Tags } from '../dicom/tag.js';
import { TransferSyntax, encodingOf } from '../dicom/transfer-syntax.js';
import { IMPLEMENTATION } from '../dicom/uid.js';
import type { CodecPool } from './codec-pool.js';
import { pixelFormatOf, encodeProblem, type PixelFormat } from './pixel-format.js';
import { canDecode, LOSSLESS_ENCODERS, LOSSY_SYNTAXES, NATIVE_SYNTAXES, NATIVE_TARGETS } from './transfer-syntaxes.js';
import { locateFrames, type FrameLocator } from './frames.js';
import { interleave } from './planar.js';

/** Why an instance cannot be had in a transfer syntax, or undefined when it can. */
export function conversionProblem(header: StoredHeader, target: string): string | undefined {
  const stored = header.meta.transferSyntaxUid;
  if (target === stored) return undefined;
  if (!NATIVE_TARGETS.includes(target) && !(target in LOSSLESS_ENCODERS)) return `the gateway does not write ${target}`;
  const pixel = header.dataset.get(Tags.PixelData);
  if (!pixel) return undefined; // no frames: only the dataset encoding changes
  const storedNative = NATIVE_SYNTAXES.has(stored);
  if (!canDecode(stored)) return `frames stored as ${stored} cannot be decoded`;
  if (storedNative && NATIVE_TARGETS.includes(target)) return undefined;
  let format: PixelFormat;
  try {
    format = pixelFormatOf(header.dataset);
  } catch (err) {
    return (err as Error).message;
  }
  return NATIVE_TARGETS.includes(target) ? undefined : encodeProblem(format, storedNative);
}

/** Frames of a scope converted at once (in worker threads), bounding memory to this many frames. */
const FRAMES_IN_FLIGHT = 4;

/**
 * The frames of an instance as native samples, colour-by-pixel (decoded when stored compressed), in order, a few
 * at a time.
 */
function nativeFrames(
  locator: FrameLocator,
  format: PixelFormat,
  codecs: CodecPool,
  onPhotometric: (p: string) => void,
): AsyncGenerator<Uint8Array> {
  const numbers = Array.from({ length: locator.numberOfFrames }, (_, i) => i + 1);
  return mapInOrder(numbers, (n) => {
    const bytes = locator.read(n);
    if (!locator.encapsulated) return Promise.resolve(colourByPixel(bytes, format));
    return codecs.decode(locator.transferSyntaxUid, format, bytes).then((r) => {
      onPhotometric(r.photometricInterpretation);
      return r.data;
    });
  });
}

/** Native colour-by-plane samples reordered colour-by-pixel, which the encoders and the output expect. */
export function colourByPixel(native: Uint8Array, format: PixelFormat): Uint8Array {
  if (format.samplesPerPixel !== 3 || format.planarConfiguration !== 1) return native;
  return interleave(native, format.rows * format.columns, format.bitsAllocated > 8 ? 2 : 1);
}

/** `work` applied to each item of `source` with at most FRAMES_IN_FLIGHT running, results yielded in order. */
async function* mapInOrder<T, U>(
  source: Iterable<T> | AsyncIterable<T>,
  work: (item: T) => Promise<U>,
): AsyncGenerator<U> {
  const it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  const queue: Promise<U>[] = [];
  let exhausted = false;
  const fill = async (): Promise<void> => {
    while (!exhausted && queue.length < FRAMES_IN_FLIGHT) {
      const r = await it.next();
      if (r.done) {
        exhausted = true;
        break;
      }
      const p = work(r.value);
      p.catch(() => {}); // awaited in turn below; not an unhandled rejection meanwhile
      queue.push(p);
    }
  };
  try {
    await fill();
    while (queue.length) {
      const result = await (queue.shift() as Promise<U>);
      await fill();
      yield result;
    }
  } finally {
    await it.return?.();
  }
}

/**
 * An instance as a Part 10 file in another transfer syntax, streamed (PS3.18 §8.7.3: transcoding on retrieve).
 * Only the pixel data is converted — frame by frame, in the codec workers, a few frames at a time — and the
 * attributes that describe it: Photometric Interpretation (a decoder's output, e.g. RGB from JPEG YBR_FULL_422),
 * Planar Configuration (colour-by-pixel), Lossy Image Compression (kept "01" once lossy, PS3.3 C.7.6.1.1.5).
 * Encapsulated output has an empty Basic Offset Table and one fragment per frame (PS3.5 §A.4).
 * Call only when `conversionProblem` found none.
 */
export function transcodedPart10(header: StoredHeader, target: string, codecs: CodecPool): AsyncIterable<Buffer> {
  const fileMeta = encodeFileMetaHeader({
    mediaStorageSopClassUid: header.meta.sopClassUid,
    mediaStorageSopInstanceUid: header.meta.sopInstanceUid,
    transferSyntaxUid: target,
    implementationClassUid: IMPLEMENTATION.classUid,
    implementationVersionName: IMPLEMENTATION.versionName,
  });
  const dataset = transcodedDataset(header, target, codecs);
  return {
    async *[Symbol.asyncIterator]() {
      yield fileMeta;
      yield* dataset;
    },
  };
}

/** The dataset of `transcodedPart10` without its File Meta Information: what a C-STORE sends. */
export function transcodedDataset(header: StoredHeader, target: string, codecs: CodecPool): AsyncIterable<Buffer> {
  const stored = header.meta.transferSyntaxUid;
  const targetEncoding = encodingOf(target);
  const ds = new Dataset();
  for (const el of header.dataset.sorted()) ds.set(el);
  const pixel = ds.get(Tags.PixelData);
  const recodesPixels = pixel !== undefined && !(NATIVE_SYNTAXES.has(stored) && NATIVE_TARGETS.includes(target));
  return {
    async *[Symbol.asyncIterator]() {
      if (!recodesPixels) {
        yield* writeStoredDataset(header, ds, { explicitVR: targetEncoding.explicitVR });
        return;
      }
      const format = pixelFormatOf(header.dataset);
      const locator = locateFrames(header);
      // The attributes come before Pixel Data, but a decoder tells the photometric interpretation only once it has
      // run: decode the first frame first.
      let photometric = format.photometricInterpretation;
      const frames = nativeFrames(locator, format, codecs, (p) => {
        photometric = p;
      })[Symbol.asyncIterator]();
      const first = await frames.next();
      const rest = async function* (): AsyncGenerator<Uint8Array> {
        try {
          if (!first.done) yield first.value;
          for (;;) {
            const r = await frames.next();
            if (r.done) return;
            yield r.value;
          }
        } finally {
          await frames.return(undefined);
        }
      };
      const decodedFormat: PixelFormat = { ...format, photometricInterpretation: photometric, planarConfiguration: 0 };
      let replacement: ReplacementValue;
      if (NATIVE_TARGETS.includes(target)) {
        replacement = nativePixelData(decodedFormat, rest());
      } else {
        const encoded = encodeFrames(target, decodedFormat, rest(), codecs, (p) => {
          photometric = p;
        });
        const firstEncoded = await encoded.next();
        replacement = encapsulatedPixelData(firstEncoded, encoded);
      }
      describePixels(ds, header, photometric, format.samplesPerPixel);
      yield* writeStoredDataset(header, ds, {
        explicitVR: targetEncoding.explicitVR,
        replace: new Map([[Tags.PixelData, replacement]]),
      });
    },
  };
}

/** Rewrites the attributes that describe converted pixel data. */
function describePixels(ds: Dataset, header: StoredHeader, photometric: string, samplesPerPixel: number): void {
  ds.setText(Tags.PhotometricInterpretation, photometric, 'CS');
  if (samplesPerPixel > 1) ds.setUint16(Tags.PlanarConfiguration, 0);
  ds.delete(Tags.ExtendedOffsetTable);
  ds.delete(Tags.ExtendedOffsetTableLengths);
  if (LOSSY_SYNTAXES.has(header.meta.transferSyntaxUid) && ds.getString(Tags.LossyImageCompression) !== '01') {
    ds.setText(Tags.LossyImageCompression, '01', 'CS');
  }
}

function nativePixelData(format: PixelFormat, frames: AsyncIterable<Uint8Array>): ReplacementValue {
  const bytes =
    format.rows * format.columns * format.samplesPerPixel * (format.bitsAllocated / 8) * format.numberOfFrames;
  const padded = bytes + (bytes % 2);
  return {
    vr: format.bitsAllocated > 8 ? 'OW' : 'OB',
    length: padded,
    body: (async function* () {
      for await (const frame of frames) yield Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
      if (padded > bytes) yield Buffer.alloc(1); // values have even length (PS3.5 §7.1.1)
    })(),
  };
}

function encodeFrames(
  target: string,
  format: PixelFormat,
  frames: AsyncIterable<Uint8Array>,
  codecs: CodecPool,
  onPhotometric: (p: string) => void,
): AsyncGenerator<Uint8Array> {
  return mapInOrder(frames, (frame) =>
    codecs.encode(target, format, frame).then((e) => {
      onPhotometric(e.photometricInterpretation);
      return e.data;
    }),
  );
}

/** Encapsulated Pixel Data (PS3.5 §A.4): an empty Basic Offset Table, one fragment per frame, the delimiter. */
function encapsulatedPixelData(first: IteratorResult<Uint8Array>, rest: AsyncGenerator<Uint8Array>): ReplacementValue {
  const fragment = (data: Uint8Array): Buffer[] => {
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const pad = body.length % 2 ? [Buffer.alloc(1)] : []; // fragments have even length
    return [delimiter(Tags.Item, body.length + pad.length), body, ...pad];
  };
  return {
    vr: 'OB',
    length: 'undefined',
    body: (async function* () {
      yield delimiter(Tags.Item, 0);
      if (!first.done) yield* fragment(first.value);
      for await (const frame of rest) yield* fragment(frame);
      yield delimiter(Tags.SequenceDelimitation, 0);
    })(),
  };
}

export const DEFAULT_INSTANCE_SYNTAX = TransferSyntax.ExplicitVRLittleEndian;
