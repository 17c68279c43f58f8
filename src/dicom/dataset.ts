import { type Tag, Tags } from './tag.js';
import type { VR } from './vr.js';
import { paddingFor } from './vr.js';
import { vrOf } from './dictionary.js';

/**
 * One data element with its raw value bytes (as on the wire, little endian) or, for SQ, its items.
 * Text is kept as bytes so that it can be decoded once the Specific Character Set is known.
 */
export type DataElement =
  | { readonly tag: Tag; readonly vr: Exclude<VR, 'SQ'>; readonly bytes: Buffer }
  | { readonly tag: Tag; readonly vr: Exclude<VR, 'SQ'>; readonly bulk: BulkRef }
  | { readonly tag: Tag; readonly vr: 'SQ'; readonly items: Dataset[] };

/**
 * A value left where it is (in a stored file) because it is large: its byte range, and for encapsulated pixel
 * data (undefined length, PS3.5 §A.4) the fragments. `littleEndian` says how multi-byte words are stored.
 */
export interface BulkRef {
  readonly offset: number;
  readonly length: number;
  readonly littleEndian: boolean;
  readonly fragments?: readonly { offset: number; length: number }[];
}

/** An element whose value bytes are at hand. */
export type InlineElement = Extract<DataElement, { bytes: Buffer }>;
export const isInline = (el: DataElement | undefined): el is InlineElement => el !== undefined && 'bytes' in el;

/** An ordered collection of data elements (a dataset or a sequence item). */
export class Dataset {
  private readonly elements = new Map<Tag, DataElement>();

  get size(): number {
    return this.elements.size;
  }

  get(t: Tag): DataElement | undefined {
    return this.elements.get(t);
  }

  has(t: Tag): boolean {
    return this.elements.has(t);
  }

  set(element: DataElement): this {
    this.elements.set(element.tag, element);
    return this;
  }

  delete(t: Tag): boolean {
    return this.elements.delete(t);
  }

  /** Elements in ascending tag order, as PS3.5 §7.1 requires on the wire. */
  sorted(): DataElement[] {
    return [...this.elements.values()].sort((a, b) => a.tag - b.tag);
  }

  /** Sets a text element from a string (or values joined by backslash), encoded as UTF-8 (ISO_IR 192). */
  setText(t: Tag, value: string | readonly string[], vr: VR = vrOf(t)): this {
    if (vr === 'SQ') throw new TypeError('setText on a sequence');
    const text = typeof value === 'string' ? value : value.join('\\');
    return this.set({ tag: t, vr, bytes: padEven(Buffer.from(text, 'utf8'), vr) });
  }

  /** Sets an element with no value (universal matching or a return key in C-FIND). */
  setEmpty(t: Tag, vr: VR = vrOf(t)): this {
    return vr === 'SQ' ? this.set({ tag: t, vr, items: [] }) : this.set({ tag: t, vr, bytes: Buffer.alloc(0) });
  }

  setUint16(t: Tag, value: number): this {
    const bytes = Buffer.alloc(2);
    bytes.writeUInt16LE(value);
    return this.set({ tag: t, vr: 'US', bytes });
  }

  setSequence(t: Tag, items: Dataset[]): this {
    return this.set({ tag: t, vr: 'SQ', items });
  }

  /** The value of a text element as an ASCII string with padding removed (for UIDs, CS, etc.). */
  getString(t: Tag): string | undefined {
    const el = this.elements.get(t);
    if (!isInline(el)) return undefined;
    return trimPadding(el.bytes.toString('latin1'));
  }

  getUint16(t: Tag): number | undefined {
    const el = this.elements.get(t);
    return isInline(el) && el.bytes.length >= 2 ? el.bytes.readUInt16LE(0) : undefined;
  }

  /** A numeric-string (IS/DS) value as a number. */
  getNumber(t: Tag): number | undefined {
    const text = this.getString(t);
    if (text === undefined || text === '') return undefined;
    const n = Number(text.split('\\')[0]);
    return Number.isFinite(n) ? n : undefined;
  }

  /** The Specific Character Set of this dataset (PS3.3 C.12.1.1.2), raw, backslash-separated. */
  get specificCharacterSet(): string | undefined {
    return this.getString(Tags.SpecificCharacterSet);
  }
}

export function padEven(bytes: Buffer, vr: VR): Buffer {
  if (bytes.length % 2 === 0) return bytes;
  return Buffer.concat([bytes, Buffer.from([paddingFor(vr)])]);
}

/** Removes trailing NUL/space padding and leading spaces (PS3.5 §6.2 for most string VRs). */
export const trimPadding = (text: string): string => text.replace(/[\0 ]+$/, '').replace(/^ +/, '');
