import { Dataset, type DataElement } from './dataset.js';
import { type Tag, Tags, tagToHex } from './tag.js';
import { type VR, isVR, hasLongExplicitHeader } from './vr.js';
import { vrOf } from './dictionary.js';
import type { DatasetEncoding } from './transfer-syntax.js';

const UNDEFINED_LENGTH = 0xffffffff;

export class DatasetParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'DatasetParseError';
  }
}

/** Random access to the bytes of a dataset: a buffer, or a file read block by block (byte-source.ts). */
export interface ByteSource {
  readonly length: number;
  /** The bytes [offset, offset + length); may be a view, do not keep it past the next call if it is a file. */
  bytes(offset: number, length: number): Buffer;
}

export class BufferSource implements ByteSource {
  constructor(private readonly buf: Buffer) {}
  get length(): number {
    return this.buf.length;
  }
  bytes(offset: number, length: number): Buffer {
    return this.buf.subarray(offset, offset + length);
  }
}

export interface ReadOptions extends DatasetEncoding {
  /** Non-sequence values longer than this are not read but referenced (BulkRef). Default: read everything. */
  bulkThreshold?: number;
  /** Where the dataset starts in the source, and where it ends (default: the end of the source). */
  start?: number;
  end?: number;
}

/** VRs whose values are words to byte-swap when read from a big-endian dataset (PS3.5 §7.3). */
const WORD_SIZE: Partial<Record<VR, number>> = {
  US: 2,
  SS: 2,
  OW: 2,
  AT: 2,
  UL: 4,
  SL: 4,
  FL: 4,
  OF: 4,
  OL: 4,
  FD: 8,
  OD: 8,
  UV: 8,
  SV: 8,
  OV: 8,
};

/** Size of the words of a VR's values (1 for bytes and text): what a big-endian value is swapped by. */
export const wordSizeOf = (vr: VR): number => WORD_SIZE[vr] ?? 1;

/** Reads a dataset (PS3.5 §7) from bytes (identifiers on the wire). */
export function readDataset(bytes: Buffer, encoding: DatasetEncoding): Dataset {
  return readDatasetFrom(new BufferSource(bytes), encoding);
}

/** Reads a dataset from any byte source; large values stay in the source as BulkRefs when `bulkThreshold` is set. */
export function readDatasetFrom(source: ByteSource, options: ReadOptions): Dataset {
  const reader = new Reader(source, options);
  reader.pos = options.start ?? 0;
  return reader.readItemBody(options.end ?? source.length, false, options.explicitVR);
}

class Reader {
  pos = 0;
  private readonly le: boolean;
  constructor(
    readonly src: ByteSource,
    readonly options: ReadOptions,
  ) {
    this.le = options.littleEndian;
  }

  private need(n: number): void {
    if (this.pos + n > this.src.length) throw new DatasetParseError(`truncated dataset (need ${n} bytes)`, this.pos);
  }

  private u16(): number {
    this.need(2);
    const b = this.src.bytes(this.pos, 2);
    this.pos += 2;
    return this.le ? b.readUInt16LE(0) : b.readUInt16BE(0);
  }

  private u32(): number {
    this.need(4);
    const b = this.src.bytes(this.pos, 4);
    this.pos += 4;
    return this.le ? b.readUInt32LE(0) : b.readUInt32BE(0);
  }

  /** Item and delimiter tags are always little endian in LE syntaxes, big endian in BE ones. */
  private readTag(): Tag {
    const group = this.u16();
    const element = this.u16();
    return ((group << 16) | element) >>> 0;
  }

  readItemBody(end: number, untilDelimiter: boolean, explicitVR: boolean): Dataset {
    const ds = new Dataset();
    while (this.pos < end) {
      const start = this.pos;
      const t = this.readTag();
      if (t === Tags.ItemDelimitation) {
        this.u32();
        if (untilDelimiter) return ds;
        throw new DatasetParseError('unexpected item delimitation', start);
      }
      let vr: VR;
      let length: number;
      if (explicitVR) {
        this.need(2);
        const vrText = this.src.bytes(this.pos, 2).toString('latin1');
        this.pos += 2;
        vr = isVR(vrText) ? vrText : 'UN';
        if (!isVR(vrText) || hasLongExplicitHeader(vr)) {
          this.pos += 2;
          length = this.u32();
        } else {
          length = this.u16();
        }
      } else {
        vr = vrOf(t);
        length = this.u32();
      }
      ds.set(this.readValue(t, vr, length, explicitVR));
    }
    if (untilDelimiter) throw new DatasetParseError('missing item delimitation', this.pos);
    return ds;
  }

  private readValue(t: Tag, vr: VR, length: number, explicitVR: boolean): DataElement {
    // An undefined-length UN is a sequence in implicit VR little endian (PS3.5 §6.2.2 note).
    if (vr === 'SQ' || (vr === 'UN' && length === UNDEFINED_LENGTH && t !== Tags.PixelData)) {
      const itemsExplicit = vr === 'SQ' ? explicitVR : false;
      return { tag: t, vr: 'SQ', items: this.readItems(length, itemsExplicit) };
    }
    if (length === UNDEFINED_LENGTH) {
      // Encapsulated pixel data (PS3.5 §A.4): a Basic Offset Table item, then fragments, then a delimiter.
      const from = this.pos;
      const fragments = this.readFragments();
      if (this.options.bulkThreshold !== undefined) {
        return { tag: t, vr, bulk: { offset: from, length: this.pos - 8 - from, littleEndian: this.le, fragments } };
      }
      return { tag: t, vr, bytes: Buffer.from(this.src.bytes(from, this.pos - 8 - from)) };
    }
    this.need(length);
    if (this.options.bulkThreshold !== undefined && length > this.options.bulkThreshold) {
      const ref = { tag: t, vr, bulk: { offset: this.pos, length, littleEndian: this.le } };
      this.pos += length;
      return ref;
    }
    let bytes: Buffer = Buffer.from(this.src.bytes(this.pos, length));
    this.pos += length;
    const word = WORD_SIZE[vr];
    if (!this.le && word && word > 1) bytes = swapWords(bytes, word);
    return { tag: t, vr, bytes };
  }

  private readItems(length: number, explicitVR: boolean): Dataset[] {
    const items: Dataset[] = [];
    const end = length === UNDEFINED_LENGTH ? Number.POSITIVE_INFINITY : this.pos + length;
    while (this.pos < end) {
      const start = this.pos;
      const t = this.readTag();
      const itemLength = this.u32();
      if (t === Tags.SequenceDelimitation) {
        if (length === UNDEFINED_LENGTH) return items;
        throw new DatasetParseError('sequence delimitation in a defined-length sequence', start);
      }
      if (t !== Tags.Item) throw new DatasetParseError(`expected an item, found ${tagToHex(t)}`, start);
      if (itemLength === UNDEFINED_LENGTH) {
        items.push(this.readItemBody(Number.POSITIVE_INFINITY, true, explicitVR));
      } else {
        this.need(itemLength);
        items.push(this.readItemBody(this.pos + itemLength, false, explicitVR));
      }
    }
    if (end === Number.POSITIVE_INFINITY) throw new DatasetParseError('missing sequence delimitation', this.pos);
    return items;
  }

  /** Fragment items up to the sequence delimiter; the first item is the Basic Offset Table. */
  private readFragments(): { offset: number; length: number }[] {
    const fragments: { offset: number; length: number }[] = [];
    for (;;) {
      const at = this.pos;
      const t = this.readTag();
      const len = this.u32();
      if (t === Tags.SequenceDelimitation) return fragments;
      if (t !== Tags.Item) throw new DatasetParseError(`expected a fragment item, found ${tagToHex(t)}`, at);
      this.need(len);
      fragments.push({ offset: this.pos, length: len });
      this.pos += len;
    }
  }
}

/** Swaps the byte order of each word in place (big ↔ little endian); a trailing partial word is left as is. */
export function swapWords(bytes: Buffer, size: number): Buffer {
  if (size <= 1) return bytes;
  if (bytes.length % size !== 0) {
    swapWords(bytes.subarray(0, bytes.length - (bytes.length % size)), size);
    return bytes;
  }
  if (size === 2) return bytes.swap16();
  if (size === 4) return bytes.swap32();
  return bytes.swap64();
}

/** Writes a dataset in the given little-endian encoding. Sequences and items use undefined lengths. */
export function writeDataset(ds: Dataset, encoding: DatasetEncoding): Buffer {
  if (!encoding.littleEndian) throw new TypeError('big endian encoding is not written here');
  const chunks: Buffer[] = [];
  writeItemBody(ds, encoding.explicitVR, chunks);
  return Buffer.concat(chunks);
}

/** The header of one element in the given encoding (PS3.5 §7.1). */
export function elementHeader(t: Tag, vr: VR, length: number, explicitVR: boolean): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16LE(t >>> 16, 0);
  header.writeUInt16LE(t & 0xffff, 2);
  if (!explicitVR) {
    header.writeUInt32LE(length, 4);
    return header.subarray(0, 8);
  }
  header.write(vr, 4, 'latin1');
  if (hasLongExplicitHeader(vr)) {
    header.writeUInt32LE(length, 8);
    return header;
  }
  if (length > 0xffff) throw new RangeError(`value of ${tagToHex(t)} too long for VR ${vr}`);
  header.writeUInt16LE(length, 6);
  return header.subarray(0, 8);
}

function writeItemBody(ds: Dataset, explicitVR: boolean, out: Buffer[]): void {
  for (const el of ds.sorted()) {
    if ('bulk' in el) throw new TypeError(`cannot write ${tagToHex(el.tag)}: its value was left in the source`);
    if (el.vr === 'SQ') {
      out.push(elementHeader(el.tag, 'SQ', UNDEFINED_LENGTH, explicitVR));
      for (const item of el.items) {
        out.push(delimiter(Tags.Item, UNDEFINED_LENGTH));
        writeItemBody(item, explicitVR, out);
        out.push(delimiter(Tags.ItemDelimitation, 0));
      }
      out.push(delimiter(Tags.SequenceDelimitation, 0));
    } else {
      out.push(elementHeader(el.tag, el.vr, el.bytes.length, explicitVR), el.bytes);
    }
  }
}

export function delimiter(t: Tag, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(t >>> 16, 0);
  b.writeUInt16LE(t & 0xffff, 2);
  b.writeUInt32LE(length, 4);
  return b;
}
