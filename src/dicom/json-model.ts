import type { Dataset, DataElement } from './dataset.js';
import { Tags, tagToHex, type Tag } from './tag.js';
import { type VR, usesSpecificCharacterSet, isSingleValuedText, isBinaryVR } from './vr.js';
import { decodeText } from './charset.js';

/** DICOM JSON model (PS3.18 Annex F). */
export interface PersonNameJson {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}
export type JsonValue = string | number | PersonNameJson | DicomJsonObject | null;
export interface DicomJsonAttribute {
  vr: VR;
  Value?: JsonValue[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJsonObject = Record<string, DicomJsonAttribute>;

export interface JsonOptions {
  /** Binary values longer than this become a BulkDataURI (when `bulkDataUri` is given); shorter ones InlineBinary. */
  inlineBinaryMaxBytes?: number;
  /**
   * Makes the URI of a binary attribute from its path in the top-level dataset: tags as 8 hex digits and
   * sequence item indices (0-based), joined by "/" (e.g. "7FE00010", "00540016/0/00181072").
   */
  bulkDataUri?: (path: string) => string | undefined;
  /** Attributes that always become BulkDataURI when a builder is given, whatever their size (Pixel Data). */
  alwaysBulk?: ReadonlySet<Tag>;
}

/** Converts a dataset to a DICOM JSON object. Text is decoded with the dataset's Specific Character Set. */
export function toDicomJson(
  ds: Dataset,
  options: JsonOptions = {},
  inheritedCharset?: string,
  path = '',
): DicomJsonObject {
  const charset = ds.specificCharacterSet ?? inheritedCharset;
  const out: DicomJsonObject = {};
  for (const el of ds.sorted()) {
    const hex = tagToHex(el.tag);
    out[hex] = elementToJson(el, charset, options, path ? `${path}/${hex}` : hex);
  }
  return out;
}

function elementToJson(
  el: DataElement,
  charset: string | undefined,
  options: JsonOptions,
  path: string,
): DicomJsonAttribute {
  if (el.vr === 'SQ') {
    return el.items.length === 0
      ? { vr: 'SQ' }
      : { vr: 'SQ', Value: el.items.map((item, i) => toDicomJson(item, options, charset, `${path}/${i}`)) };
  }
  if ('bulk' in el) {
    // A value left in the stored file: only a BulkDataURI can stand for it.
    const uri = options.bulkDataUri?.(path);
    return uri ? { vr: el.vr, BulkDataURI: uri } : { vr: el.vr };
  }
  const { vr, bytes } = el;
  if (bytes.length === 0) return { vr };
  if (isBinaryVR(vr) || options.alwaysBulk?.has(el.tag)) {
    const large = bytes.length > (options.inlineBinaryMaxBytes ?? 0) || options.alwaysBulk?.has(el.tag) === true;
    const uri = options.bulkDataUri && large ? options.bulkDataUri(path) : undefined;
    return uri ? { vr, BulkDataURI: uri } : { vr, InlineBinary: bytes.toString('base64') };
  }
  const values = numericValues(vr, bytes) ?? textValues(el.tag, vr, bytes, charset);
  return values.length === 0 || values.every((v) => v === null) ? { vr } : { vr, Value: values };
}

function numericValues(vr: VR, bytes: Buffer): JsonValue[] | undefined {
  const read = (size: number, fn: (offset: number) => number | bigint): JsonValue[] => {
    const values: JsonValue[] = [];
    for (let off = 0; off + size <= bytes.length; off += size) {
      const v = fn(off);
      values.push(typeof v === 'bigint' ? (Number.isSafeInteger(Number(v)) ? Number(v) : v.toString()) : v);
    }
    return values;
  };
  switch (vr) {
    case 'US':
      return read(2, (o) => bytes.readUInt16LE(o));
    case 'SS':
      return read(2, (o) => bytes.readInt16LE(o));
    case 'UL':
      return read(4, (o) => bytes.readUInt32LE(o));
    case 'SL':
      return read(4, (o) => bytes.readInt32LE(o));
    case 'FL':
      return read(4, (o) => bytes.readFloatLE(o));
    case 'FD':
      return read(8, (o) => bytes.readDoubleLE(o));
    case 'UV':
      return read(8, (o) => bytes.readBigUInt64LE(o));
    case 'SV':
      return read(8, (o) => bytes.readBigInt64LE(o));
    case 'AT': {
      const values: JsonValue[] = [];
      for (let off = 0; off + 4 <= bytes.length; off += 4) {
        values.push(tagToHex(((bytes.readUInt16LE(off) << 16) | bytes.readUInt16LE(off + 2)) >>> 0));
      }
      return values;
    }
    default:
      return undefined;
  }
}

function textValues(t: Tag, vr: VR, bytes: Buffer, charset: string | undefined): JsonValue[] {
  const text = usesSpecificCharacterSet(vr) ? decodeText(bytes, charset, vr) : bytes.toString('latin1');
  if (isSingleValuedText(vr)) {
    const trimmed = vr === 'UR' ? text.trim() : text.replace(/[\0 ]+$/, '');
    return trimmed === '' ? [] : [trimmed];
  }
  const parts = text.split('\\').map((p) => p.replace(/[\0 ]+$/, '').replace(/^ +/, ''));
  // Specific Character Set is the one attribute whose leading empty value is meaningful (default repertoire).
  if (t === Tags.SpecificCharacterSet) return parts;
  return parts.map((p): JsonValue => {
    if (p === '') return null;
    switch (vr) {
      case 'PN':
        return personName(p);
      case 'DS':
        return decimalString(p);
      case 'IS':
        return integerString(p);
      default:
        return p;
    }
  });
}

function personName(value: string): PersonNameJson {
  const [alphabetic, ideographic, phonetic] = value.split('=');
  const pn: PersonNameJson = {};
  if (alphabetic) pn.Alphabetic = alphabetic;
  if (ideographic) pn.Ideographic = ideographic;
  if (phonetic) pn.Phonetic = phonetic;
  return pn;
}

/** DS and IS are JSON numbers (PS3.18 F.2.3); a value that is not a number stays a string rather than being lost. */
function decimalString(text: string): number | string {
  const n = Number(text);
  return text !== '' && Number.isFinite(n) ? n : text;
}

function integerString(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}
