import { openSync, readSync, closeSync } from 'node:fs';
import type { StoredHeader } from '../dicom/part10-reader.js';
import type { BulkRef } from '../dicom/dataset.js';
import { tag, Tags } from '../dicom/tag.js';
import { TransferSyntax } from '../dicom/transfer-syntax.js';
import { swapWords, wordSizeOf } from '../dicom/dataset-codec.js';
import { Errors } from '../errors.js';

/** Media type of a stored bitstream per transfer syntax (PS3.18 Table 8.7.3-2/-3). */
export const FRAME_MEDIA_TYPE: Readonly<Record<string, string>> = {
  [TransferSyntax.JPEGBaseline8Bit]: 'image/jpeg',
  [TransferSyntax.JPEGExtended12Bit]: 'image/jpeg',
  [TransferSyntax.JPEGLossless]: 'image/jpeg',
  [TransferSyntax.JPEGLosslessSV1]: 'image/jpeg',
  [TransferSyntax.JPEGLSLossless]: 'image/jls',
  [TransferSyntax.JPEGLSNearLossless]: 'image/jls',
  [TransferSyntax.JPEG2000Lossless]: 'image/jp2',
  [TransferSyntax.JPEG2000]: 'image/jp2',
  [TransferSyntax.JPEG2000MCLossless]: 'image/jpx',
  [TransferSyntax.JPEG2000MC]: 'image/jpx',
  [TransferSyntax.HTJ2KLossless]: 'image/jphc',
  [TransferSyntax.HTJ2KLosslessRPCL]: 'image/jphc',
  [TransferSyntax.HTJ2K]: 'image/jphc',
  [TransferSyntax.JPEGXLLossless]: 'image/jxl',
  [TransferSyntax.JPEGXLJPEGRecompression]: 'image/jxl',
  [TransferSyntax.JPEGXL]: 'image/jxl',
  [TransferSyntax.RLELossless]: 'image/dicom-rle',
};

const NATIVE = new Set<string>([
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
  TransferSyntax.DeflatedExplicitVRLittleEndian,
  TransferSyntax.EncapsulatedUncompressedExplicitVRLittleEndian,
]);

export class FrameError extends Error {
  constructor(
    message: string,
    readonly kind: 'no-pixels' | 'out-of-range' | 'unsupported',
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Where the frames of a stored instance are, and how to read one. */
export interface FrameLocator {
  readonly numberOfFrames: number;
  /** True when frames are stored compressed (encapsulated). */
  readonly encapsulated: boolean;
  readonly transferSyntaxUid: string;
  /** Frame n (1-based): native pixels little endian, or the stored compressed bitstream. */
  read(n: number): Buffer;
}

const ranges = (list: readonly { offset: number; length: number }[]): number => list.reduce((a, r) => a + r.length, 0);

/** Reads byte ranges of the stored file (or the inflated dataset). Only the frame asked for is read. */
function readRanges(header: StoredHeader, list: readonly { offset: number; length: number }[]): Buffer {
  const out = Buffer.alloc(ranges(list));
  if (header.inflated) {
    let at = 0;
    for (const r of list) {
      header.inflated.copy(out, at, r.offset, r.offset + r.length);
      at += r.length;
    }
    return out;
  }
  const fd = openSync(header.path, 'r');
  try {
    let at = 0;
    for (const r of list) {
      let done = 0;
      while (done < r.length) {
        const n = readSync(fd, out, at + done, r.length - done, r.offset + done);
        if (n === 0) throw new FrameError('the stored file is shorter than its pixel data', 'unsupported');
        done += n;
      }
      at += r.length;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

const missingFrameMessage = (n: number, total: number): string =>
  `frame ${n} does not exist: the instance has ${total} frame${total === 1 ? '' : 's'}`;

/** 404 naming the first of `wanted` beyond an instance's `total` frames (PS3.18 §10.4.1.1.4); nothing when all exist. */
export function requireFrames(wanted: readonly number[], total: number): void {
  const missing = wanted.find((n) => n > total);
  if (missing !== undefined) throw Errors.notFound(missingFrameMessage(missing, total));
}

export function locateFrames(header: StoredHeader): FrameLocator {
  const ds = header.dataset;
  const pixel = ds.get(Tags.PixelData) ?? ds.get(Tags.FloatPixelData) ?? ds.get(Tags.DoubleFloatPixelData);
  if (!pixel || pixel.vr === 'SQ') throw new FrameError('the instance has no pixel data', 'no-pixels');
  const numberOfFrames = Math.max(1, ds.getNumber(tag(0x0028, 0x0008)) ?? 1);
  const ts = header.meta.transferSyntaxUid;
  const ref: BulkRef = 'bulk' in pixel ? pixel.bulk : { offset: -1, length: pixel.bytes.length, littleEndian: true };
  const inline = 'bytes' in pixel ? pixel.bytes : undefined;
  const check = (n: number): void => {
    if (!Number.isInteger(n) || n < 1 || n > numberOfFrames)
      throw new FrameError(missingFrameMessage(n, numberOfFrames), 'out-of-range');
  };

  if (NATIVE.has(ts) && !ref.fragments) {
    const rows = ds.getUint16(tag(0x0028, 0x0010)) ?? 0;
    const columns = ds.getUint16(tag(0x0028, 0x0011)) ?? 0;
    const samples = ds.getUint16(tag(0x0028, 0x0002)) ?? 1;
    const bitsAllocated = ds.getUint16(tag(0x0028, 0x0100)) ?? 8;
    const frameBits = rows * columns * samples * bitsAllocated;
    return {
      numberOfFrames,
      encapsulated: false,
      transferSyntaxUid: ts,
      read(n) {
        check(n);
        const startBit = (n - 1) * frameBits;
        // Big endian words become little endian (PS3.18 §8.7.3: native frames are little endian). The words are
        // those of the VR (an 8-bit image in OW has its bytes swapped in pairs, PS3.5 §A.3), so read whole words.
        const word = ref.littleEndian ? 1 : wordSizeOf(pixel.vr);
        const firstByte = Math.floor(startBit / 8);
        const alignedFirst = firstByte - (firstByte % word);
        const endByte = Math.ceil((startBit + frameBits) / 8);
        const alignedEnd = Math.min(Math.ceil(endByte / word) * word, Math.max(ref.length, endByte));
        const wide = inline
          ? Buffer.from(inline.subarray(alignedFirst, alignedEnd))
          : readRanges(header, [{ offset: ref.offset + alignedFirst, length: alignedEnd - alignedFirst }]);
        const raw = swapWords(wide, word).subarray(firstByte - alignedFirst, endByte - alignedFirst);
        const shift = startBit % 8;
        if (shift === 0) return raw.subarray(0, Math.ceil(frameBits / 8));
        // 1-bit frames need not start on a byte (PS3.5 §8.1.1): realign so the frame starts at bit 0.
        const out = Buffer.alloc(Math.ceil(frameBits / 8));
        for (let i = 0; i < out.length; i++)
          out[i] = (((raw[i] ?? 0) >> shift) | ((raw[i + 1] ?? 0) << (8 - shift))) & 0xff;
        return out;
      },
    };
  }

  const fragments = ref.fragments;
  if (!fragments || fragments.length < 1)
    throw new FrameError('encapsulated pixel data without fragments', 'unsupported');
  const [offsetTable, ...data] = fragments as [
    { offset: number; length: number },
    ...{ offset: number; length: number }[],
  ];
  const frameFragments = groupFragments(header, numberOfFrames, offsetTable, data);
  return {
    numberOfFrames,
    encapsulated: true,
    transferSyntaxUid: ts,
    read(n) {
      check(n);
      const list = frameFragments[n - 1];
      if (!list) throw new FrameError(`frame ${n} cannot be located in the encapsulated pixel data`, 'unsupported');
      return readRanges(header, list);
    },
  };
}

/**
 * Which fragments make each frame (PS3.5 §A.4): from the Basic Offset Table when present, else from the
 * Extended Offset Table, else one fragment per frame, else all fragments for a single frame, else a new frame
 * at each fragment that starts with a codestream start marker (JPEG SOI FFD8, JPEG 2000 SOC FF4F).
 */
function groupFragments(
  header: StoredHeader,
  frames: number,
  offsetTable: { offset: number; length: number },
  data: { offset: number; length: number }[],
): { offset: number; length: number }[][] {
  const itemStarts = data.map((f) => f.offset - 8);
  const firstItem = itemStarts[0] ?? 0;
  const byOffsets = (offsets: number[]): { offset: number; length: number }[][] =>
    offsets.map((o, i) => {
      const from = firstItem + o;
      const to = i + 1 < offsets.length ? firstItem + (offsets[i + 1] as number) : Number.POSITIVE_INFINITY;
      return data.filter((_, k) => (itemStarts[k] as number) >= from && (itemStarts[k] as number) < to);
    });
  if (offsetTable.length >= 4 * frames && offsetTable.length > 0) {
    const table = readRanges(header, [offsetTable]);
    const offsets = Array.from({ length: frames }, (_, i) =>
      header.meta.transferSyntaxUid === TransferSyntax.ExplicitVRBigEndian
        ? table.readUInt32BE(i * 4)
        : table.readUInt32LE(i * 4),
    );
    return byOffsets(offsets);
  }
  const eot = header.dataset.get(Tags.ExtendedOffsetTable);
  if (eot && 'bytes' in eot && eot.bytes.length >= 8 * frames) {
    return byOffsets(Array.from({ length: frames }, (_, i) => Number(eot.bytes.readBigUInt64LE(i * 8))));
  }
  if (data.length === frames) return data.map((f) => [f]);
  if (frames === 1) return [data];
  const groups: { offset: number; length: number }[][] = [];
  for (const f of data) {
    const head = readRanges(header, [{ offset: f.offset, length: Math.min(2, f.length) }]);
    const starts = head[0] === 0xff && (head[1] === 0xd8 || head[1] === 0x4f);
    if (starts || groups.length === 0) groups.push([f]);
    else groups[groups.length - 1]?.push(f);
  }
  return groups.length === frames ? groups : [];
}
