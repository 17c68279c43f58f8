import { Dataset, type DataElement } from './dataset.js';
import { type Tag, Tags, tagToHex } from './tag.js';
import { type VR, isVR, hasLongExplicitHeader } from './vr.js';
import { vrOf } from './dictionary.js';
import type { DatasetEncoding } from './transfer-syntax.js';

const UNDEFINED_LENGTH = 0xffffffff;

export class DatasetParseError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'DatasetParseError';
  }
}

/**
 * Reads a whole little-endian dataset (PS3.5 §7) from bytes: used for identifiers and command-sized
 * datasets, never for pixel data (those travel as streams).
 */
export function readDataset(bytes: Buffer, encoding: DatasetEncoding): Dataset {
  if (!encoding.littleEndian) throw new DatasetParseError('big endian datasets are not read here', 0);
  const reader = new Reader(bytes, encoding.explicitVR);
  const ds = reader.readItemBody(bytes.length, false);
  return ds;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer, readonly explicitVR: boolean) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new DatasetParseError(`truncated dataset (need ${n} bytes)`, this.pos);
  }

  private readTag(): Tag {
    this.need(4);
    const group = this.buf.readUInt16LE(this.pos);
    const element = this.buf.readUInt16LE(this.pos + 2);
    this.pos += 4;
    return ((group << 16) | element) >>> 0;
  }

  /** Reads elements until `end` (defined length) or an item delimitation (undefined length). */
  readItemBody(end: number, untilDelimiter: boolean, explicitVR = this.explicitVR): Dataset {
    const ds = new Dataset();
    while (this.pos < end) {
      const start = this.pos;
      const t = this.readTag();
      if (t === Tags.ItemDelimitation) {
        this.need(4);
        this.pos += 4;
        if (untilDelimiter) return ds;
        throw new DatasetParseError('unexpected item delimitation', start);
      }
      let vr: VR;
      let length: number;
      if (explicitVR) {
        this.need(4);
        const vrText = this.buf.toString('latin1', this.pos, this.pos + 2);
        this.pos += 2;
        vr = isVR(vrText) ? vrText : 'UN';
        if (!isVR(vrText) || hasLongExplicitHeader(vr)) {
          this.need(6);
          length = this.buf.readUInt32LE(this.pos + 2);
          this.pos += 6;
        } else {
          length = this.buf.readUInt16LE(this.pos);
          this.pos += 2;
        }
      } else {
        this.need(4);
        vr = vrOf(t);
        length = this.buf.readUInt32LE(this.pos);
        this.pos += 4;
      }
      ds.set(this.readValue(t, vr, length, start, explicitVR));
    }
    if (untilDelimiter) throw new DatasetParseError('missing item delimitation', this.pos);
    return ds;
  }

  private readValue(t: Tag, vr: VR, length: number, start: number, explicitVR: boolean): DataElement {
    // An undefined-length UN is a sequence in implicit VR little endian (PS3.5 §6.2.2 note).
    if (vr === 'SQ' || (vr === 'UN' && length === UNDEFINED_LENGTH)) {
      const itemsExplicit = vr === 'SQ' ? explicitVR : false;
      return { tag: t, vr: 'SQ', items: this.readItems(length, itemsExplicit) };
    }
    if (length === UNDEFINED_LENGTH) {
      // Encapsulated pixel data: keep the fragments' bytes as they are.
      const from = this.pos;
      this.skipToSequenceDelimiter();
      return { tag: t, vr, bytes: this.buf.subarray(from, this.pos - 8) };
    }
    this.need(length);
    if (length > this.buf.length) throw new DatasetParseError(`value of ${tagToHex(t)} too long`, start);
    const bytes = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return { tag: t, vr, bytes };
  }

  private readItems(length: number, explicitVR: boolean): Dataset[] {
    const items: Dataset[] = [];
    const end = length === UNDEFINED_LENGTH ? Number.POSITIVE_INFINITY : this.pos + length;
    while (this.pos < end) {
      const start = this.pos;
      const t = this.readTag();
      this.need(4);
      const itemLength = this.buf.readUInt32LE(this.pos);
      this.pos += 4;
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

  private skipToSequenceDelimiter(): void {
    for (;;) {
      const t = this.readTag();
      this.need(4);
      const len = this.buf.readUInt32LE(this.pos);
      this.pos += 4;
      if (t === Tags.SequenceDelimitation) return;
      this.need(len);
      this.pos += len;
    }
  }
}

/** Writes a dataset in the given little-endian encoding. Sequences and items use undefined lengths. */
export function writeDataset(ds: Dataset, encoding: DatasetEncoding): Buffer {
  if (!encoding.littleEndian) throw new TypeError('big endian encoding is not written here');
  const chunks: Buffer[] = [];
  writeItemBody(ds, encoding.explicitVR, chunks);
  return Buffer.concat(chunks);
}

function writeItemBody(ds: Dataset, explicitVR: boolean, out: Buffer[]): void {
  for (const el of ds.sorted()) {
    const header = Buffer.alloc(12);
    header.writeUInt16LE(el.tag >>> 16, 0);
    header.writeUInt16LE(el.tag & 0xffff, 2);
    const length = el.vr === 'SQ' ? UNDEFINED_LENGTH : el.bytes.length;
    let headerLength: number;
    if (explicitVR) {
      header.write(el.vr, 4, 'latin1');
      if (hasLongExplicitHeader(el.vr)) {
        header.writeUInt32LE(length, 8);
        headerLength = 12;
      } else {
        if (length > 0xffff) throw new RangeError(`value of ${tagToHex(el.tag)} too long for VR ${el.vr}`);
        header.writeUInt16LE(length, 6);
        headerLength = 8;
      }
    } else {
      header.writeUInt32LE(length, 4);
      headerLength = 8;
    }
    out.push(header.subarray(0, headerLength));
    if (el.vr === 'SQ') {
      for (const item of el.items) {
        out.push(delimiter(Tags.Item, UNDEFINED_LENGTH));
        writeItemBody(item, explicitVR, out);
        out.push(delimiter(Tags.ItemDelimitation, 0));
      }
      out.push(delimiter(Tags.SequenceDelimitation, 0));
    } else {
      out.push(el.bytes);
    }
  }
}

function delimiter(t: Tag, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(t >>> 16, 0);
  b.writeUInt16LE(t & 0xffff, 2);
  b.writeUInt32LE(length, 4);
  return b;
}
