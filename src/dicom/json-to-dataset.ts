import { Dataset, padEven } from './dataset.js';
import type { DicomJsonAttribute, DicomJsonObject, JsonValue, PersonNameJson } from './json-model.js';
import type { Tag } from './tag.js';
import type { VR } from './vr.js';

/** A value the JSON names by BulkDataURI (PS3.18 §F.2.6): it comes in a part of its own. */
export interface BulkValue {
  tag: Tag;
  vr: Exclude<VR, 'SQ'>;
  uri: string;
}

export class DicomJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomJsonError';
  }
}

const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DT', 'LO', 'LT', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const NUMBERS: Record<string, { size: number; write(b: Buffer, v: number | bigint, at: number): void }> = {
  FL: { size: 4, write: (b, v, at) => b.writeFloatLE(Number(v), at) },
  FD: { size: 8, write: (b, v, at) => b.writeDoubleLE(Number(v), at) },
  SL: { size: 4, write: (b, v, at) => b.writeInt32LE(Number(v), at) },
  SS: { size: 2, write: (b, v, at) => b.writeInt16LE(Number(v), at) },
  UL: { size: 4, write: (b, v, at) => b.writeUInt32LE(Number(v), at) },
  US: { size: 2, write: (b, v, at) => b.writeUInt16LE(Number(v), at) },
  SV: { size: 8, write: (b, v, at) => b.writeBigInt64LE(BigInt(v), at) },
  UV: { size: 8, write: (b, v, at) => b.writeBigUInt64LE(BigInt(v), at) },
};

const tagOf = (hex: string): Tag => {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) throw new DicomJsonError(`"${hex}" is not a tag (8 hex digits)`);
  return Number.parseInt(hex, 16) as Tag;
};

/** A decimal string of at most 16 characters (PS3.5 Table 6.2-1 DS). */
function decimalString(v: number): string {
  const plain = String(v);
  if (plain.length <= 16) return plain;
  for (let digits = 15; digits > 0; digits--) {
    const s = v.toPrecision(digits).replace(/\.?0+(e|$)/, '$1');
    if (s.length <= 16) return s;
  }
  throw new DicomJsonError(`${v} does not fit a decimal string`);
}

function personName(v: JsonValue): string {
  if (v === null) return '';
  if (typeof v !== 'object')
    throw new DicomJsonError('a PN value must be an object with Alphabetic, Ideographic, Phonetic');
  const pn = v as PersonNameJson;
  return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
}

function valueBytes(tag: string, attr: DicomJsonAttribute & { vr: Exclude<VR, 'SQ'> }): Buffer {
  const { vr } = attr;
  const values = attr.Value ?? [];
  if (vr === 'PN') return padEven(Buffer.from(values.map(personName).join('\\'), 'utf8'), vr);
  if (STRING_VRS.has(vr))
    return padEven(Buffer.from(values.map((v) => (v === null ? '' : String(v))).join('\\'), 'utf8'), vr);
  if (vr === 'IS' || vr === 'DS') {
    return padEven(
      Buffer.from(
        values
          .map((v) =>
            v === null
              ? ''
              : typeof v === 'number'
                ? vr === 'DS'
                  ? decimalString(v)
                  : String(Math.trunc(v))
                : String(v),
          )
          .join('\\'),
        'latin1',
      ),
      vr,
    );
  }
  const number = NUMBERS[vr];
  if (number) {
    const out = Buffer.alloc(number.size * values.length);
    values.forEach((v, i) => {
      if (typeof v !== 'number' && typeof v !== 'string')
        throw new DicomJsonError(`${tag}: ${vr} values must be numbers`);
      number.write(out, typeof v === 'string' ? BigInt(v) : v, i * number.size);
    });
    return out;
  }
  if (vr === 'AT') {
    const out = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => {
      const t = tagOf(String(v));
      out.writeUInt16LE(t >>> 16, i * 4);
      out.writeUInt16LE(t & 0xffff, i * 4 + 2);
    });
    return out;
  }
  if (BINARY_VRS.has(vr)) {
    const inline = (attr as { InlineBinary?: string }).InlineBinary;
    return padEven(inline ? Buffer.from(inline, 'base64') : Buffer.alloc(0), vr);
  }
  throw new DicomJsonError(`${tag}: unknown VR "${vr}"`);
}

/**
 * A DICOM JSON object (PS3.18 Annex F) as a dataset to be written in Explicit VR Little Endian: text in UTF-8
 * (Specific Character Set becomes ISO_IR 192: JSON is Unicode), numbers and tags in binary, InlineBinary decoded.
 * Values named by BulkDataURI are listed (top level only), not read: their parts come separately.
 */
export function datasetFromDicomJson(json: DicomJsonObject, nested = false): { dataset: Dataset; bulk: BulkValue[] } {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new DicomJsonError('a DICOM JSON object is expected');
  const dataset = new Dataset();
  const bulk: BulkValue[] = [];
  for (const [hex, attr] of Object.entries(json)) {
    const tag = tagOf(hex);
    if (tag >>> 16 === 0x0002) continue; // File Meta Information is ours to write
    if (nested && tag === 0x00080005) continue; // the top level's ISO_IR 192 holds for the items too
    if (typeof attr !== 'object' || attr === null || typeof attr.vr !== 'string')
      throw new DicomJsonError(`${hex}: an attribute needs a "vr"`);
    const vr = attr.vr as VR;
    if (vr === 'SQ') {
      dataset.setSequence(
        tag,
        (attr.Value ?? []).map((item) => {
          const inner = datasetFromDicomJson(item as DicomJsonObject, true);
          return inner.dataset;
        }),
      );
      continue;
    }
    const uri = (attr as { BulkDataURI?: string }).BulkDataURI;
    if (uri !== undefined) {
      if (nested) throw new DicomJsonError(`${hex}: bulk data inside a sequence item is not taken`);
      bulk.push({ tag, vr, uri });
      continue;
    }
    dataset.set({ tag, vr, bytes: valueBytes(hex, attr as DicomJsonAttribute & { vr: Exclude<VR, 'SQ'> }) });
  }
  if (!nested) dataset.setText(0x00080005 as Tag, 'ISO_IR 192', 'CS');
  return { dataset, bulk };
}
