import { openSync, readSync, closeSync, fstatSync, createReadStream } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { BufferSource, readDatasetFrom, type ByteSource } from './dataset-codec.js';
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
    if (source.length < 144 || source.bytes(128, 4).toString('latin1') !== 'DICM') throw new Part10Error(`${path} is not a DICOM Part 10 file`);
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
      return { path, meta, dataset, datasetOffset, inflated };
    }
    const dataset = readDatasetFrom(source, { ...encoding, bulkThreshold, start: datasetOffset });
    return { path, meta, dataset, datasetOffset };
  } finally {
    closeSync(fd);
  }
}

/** Streams the bytes of a bulk value (or a byte range of it) from where it is stored. */
export function bulkStream(header: StoredHeader, ref: Pick<BulkRef, 'offset' | 'length'>, range?: { start: number; end: number }): Readable {
  const start = ref.offset + (range?.start ?? 0);
  const endInclusive = ref.offset + (range ? range.end : ref.length - 1);
  if (header.inflated) return Readable.from([header.inflated.subarray(start, endInclusive + 1)]);
  return createReadStream(header.path, { start, end: endInclusive, highWaterMark: 256 * 1024 });
}
