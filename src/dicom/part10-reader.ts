import { openSync, readSync, closeSync, fstatSync, createReadStream } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { BufferSource, readDatasetFrom, swapWords, type ByteSource } from './dataset-codec.js';
import type { Dataset, BulkRef } from './dataset.js';
import { tag } from './tag.js';
import { encodingOf, TransferSyntax } from './transfer-syntax.js';

const BLOCK = 64 * 1024;

/** A file read on demand in 64 KiB blocks, for parsing headers without reading pixel data. */
export class FileByteSource implements ByteSource {
  readonly length: number;
  private blockStart = -1;
  private block: Buffer = Buffer.alloc(0);

  constructor(private readonly fd: number) {
    this.length = fstatSync(fd).size;
  }

  bytes(offset: number, length: number): Buffer {
    if (length > BLOCK || offset + length > this.length) return this.direct(offset, length);
    if (this.blockStart < 0 || offset < this.blockStart || offset + length > this.blockStart + this.block.length) {
      this.blockStart = offset;
      this.block = this.direct(offset, Math.min(BLOCK, this.length - offset));
    }
    return this.block.subarray(offset - this.blockStart, offset - this.blockStart + length);
  }

  private direct(offset: number, length: number): Buffer {
    const out = Buffer.alloc(Math.max(0, Math.min(length, this.length - offset)));
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.fd, out, done, out.length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return out;
  }
}

export interface Part10Meta {
  transferSyntaxUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
}

/** A stored instance's header: its dataset with large values left in place (BulkRef), and where they are. */
export interface StoredHeader {
  path: string;
  meta: Part10Meta;
  dataset: Dataset;
  /** Offset of the dataset in the file (after the File Meta Information). */
  datasetOffset: number;
  /** For a deflated dataset the inflated bytes, which BulkRefs then point into; otherwise BulkRefs are file offsets. */
  inflated?: Buffer;
  /** Explicit VR Big Endian: values left in the file have big-endian words. */
  bigEndian: boolean;
}

export class Part10Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Part10Error';
  }
}

/**
 * Parses a Part 10 file (PS3.10 §7.1): the File Meta Information, then the dataset in its transfer syntax.
 * Values longer than `bulkThreshold` are not read. Deflated datasets (PS3.5 §A.5) are inflated in memory.
 */
export function readPart10Header(path: string, bulkThreshold = 1024): StoredHeader {
  const fd = openSync(path, 'r');
  try {
    const source = new FileByteSource(fd);
    if (source.length < 144 || source.bytes(128, 4).toString('latin1') !== 'DICM')
      throw new Part10Error(`${path} is not a DICOM Part 10 file`);
    const groupLength = source.bytes(140, 4).readUInt32LE(0);
    const datasetOffset = 144 + groupLength;
    const metaDs = readDatasetFrom(source, { explicitVR: true, littleEndian: true, start: 132, end: datasetOffset });
    const meta: Part10Meta = {
      transferSyntaxUid: metaDs.getString(tag(0x0002, 0x0010)) ?? '',
      sopClassUid: metaDs.getString(tag(0x0002, 0x0002)) ?? '',
      sopInstanceUid: metaDs.getString(tag(0x0002, 0x0003)) ?? '',
    };
    const encoding = encodingOf(meta.transferSyntaxUid);
    if (meta.transferSyntaxUid === TransferSyntax.DeflatedExplicitVRLittleEndian) {
      const inflated = inflateRawSync(source.bytes(datasetOffset, source.length - datasetOffset));
      const dataset = readDatasetFrom(new BufferSource(inflated), { ...encoding, bulkThreshold });
      return { path, meta, dataset, datasetOffset, inflated, bigEndian: false };
    }
    const dataset = readDatasetFrom(source, { ...encoding, bulkThreshold, start: datasetOffset });
    return { path, meta, dataset, datasetOffset, bigEndian: !encoding.littleEndian };
  } finally {
    closeSync(fd);
  }
}

/**
 * Streams the bytes of a bulk value (or a byte range of it) from where it is stored, little endian: in a
 * big-endian file each word of `wordSize` bytes is swapped (PS3.18 §8.7.2: bulk data is little endian).
 */
export async function* bulkStream(
  header: StoredHeader,
  ref: Pick<BulkRef, 'offset' | 'length'>,
  range: { start: number; end: number } | undefined,
  wordSize: number,
): AsyncGenerator<Buffer> {
  const from = range?.start ?? 0;
  const to = range ? range.end + 1 : ref.length;
  const swap = header.bigEndian && wordSize > 1;
  // Swapping needs whole words: read from the word holding `from`, then trim.
  const alignedFrom = swap ? from - (from % wordSize) : from;
  const alignedTo = swap ? Math.min(ref.length, Math.ceil(to / wordSize) * wordSize) : to;
  const raw: AsyncIterable<Buffer> | Iterable<Buffer> = header.inflated
    ? [header.inflated.subarray(ref.offset + alignedFrom, ref.offset + alignedTo)]
    : alignedTo > alignedFrom
      ? createReadStream(header.path, {
          start: ref.offset + alignedFrom,
          end: ref.offset + alignedTo - 1,
          highWaterMark: 256 * 1024,
        })
      : [];
  if (!swap) {
    yield* raw;
    return;
  }
  let skip = from - alignedFrom;
  let left = to - from;
  let carry = Buffer.alloc(0);
  for await (const chunk of raw) {
    const joined = carry.length ? Buffer.concat([carry, chunk]) : Buffer.from(chunk);
    const whole = joined.length - (joined.length % wordSize);
    carry = joined.subarray(whole);
    let out = swapWords(joined.subarray(0, whole), wordSize);
    if (skip) {
      out = out.subarray(skip);
      skip = 0;
    }
    if (out.length > left) out = out.subarray(0, left);
    left -= out.length;
    if (out.length) yield out;
  }
  if (carry.length && left > 0) yield carry.subarray(skip, skip + left); // a value of odd length ends in a partial word
}
