import dcmjs from 'dcmjs';
import { type Tag, groupOf, elementOf } from './tag.js';
import { type VR, isVR } from './vr.js';

/** One data-dictionary entry (PS3.6), as the gateway needs it. */
export interface AttributeInfo {
  tag: Tag;
  keyword: string;
  vr: VR;
}

const { DicomMetaDictionary } = dcmjs.data;

const dcmjsKey = (t: Tag): string =>
  `(${groupOf(t).toString(16).toUpperCase().padStart(4, '0')},${elementOf(t).toString(16).toUpperCase().padStart(4, '0')})`;

/**
 * dcmjs writes ambiguous VRs as "US or SS", "OB or OW", and some as lower-case codes; pick the one an implicit
 * VR dataset means (PS3.5 §A.1): OB/OW data (Pixel Data, Overlay Data: "ox") is OW, US/SS ("xs") is US,
 * LUT Data (US or OW: "lt") is OW.
 */
const AMBIGUOUS: Readonly<Record<string, VR>> = { ox: 'OW', xs: 'US', lt: 'OW' };
function normaliseVR(raw: string): VR {
  const resolved = AMBIGUOUS[raw];
  if (resolved) return resolved;
  const first =
    raw
      .split(/\s+or\s+/i)[0]
      ?.trim()
      .toUpperCase() ?? '';
  return isVR(first) ? first : 'UN';
}

const byTag = new Map<Tag, AttributeInfo | null>();
const byKeyword = new Map<string, AttributeInfo | null>();

function fromEntry(
  entry: { tag: string; vr: string; name: string } | undefined,
  expectedKey?: string,
): AttributeInfo | null {
  // dcmjs falls back to wildcard entries (e.g. "(60xx,3000)") for unknown tags; only accept an exact match.
  if (!entry || (expectedKey !== undefined && entry.tag.toUpperCase() !== expectedKey)) return null;
  if (entry.name.startsWith('RETIRED_') && expectedKey === undefined) return null;
  const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(entry.tag);
  if (!m?.[1] || !m[2]) return null;
  return {
    tag: ((Number.parseInt(m[1], 16) << 16) | Number.parseInt(m[2], 16)) >>> 0,
    keyword: entry.name.replace(/^RETIRED_/, ''),
    vr: normaliseVR(entry.vr),
  };
}

/** The dictionary entry for a tag, or undefined for private and unknown tags. */
export function attributeByTag(t: Tag): AttributeInfo | undefined {
  let hit = byTag.get(t);
  if (hit === undefined) {
    const key = dcmjsKey(t);
    hit = fromEntry(DicomMetaDictionary.dictionary[key], key);
    byTag.set(t, hit);
  }
  return hit ?? undefined;
}

/** The dictionary entry for a PS3.6 keyword such as "PatientName" (case-sensitive, as in PS3.18 §8.3.4.1). */
export function attributeByKeyword(keyword: string): AttributeInfo | undefined {
  let hit = byKeyword.get(keyword);
  if (hit === undefined) {
    hit = /^[A-Za-z][A-Za-z0-9]*$/.test(keyword) ? fromEntry(DicomMetaDictionary.nameMap[keyword]) : null;
    if (hit && hit.keyword !== keyword) hit = null;
    byKeyword.set(keyword, hit);
  }
  return hit ?? undefined;
}

/** The VR to use for a tag when the transfer syntax does not carry one (implicit VR). */
export function vrOf(t: Tag): VR {
  if (elementOf(t) === 0x0000) return 'UL'; // group length
  if ((groupOf(t) & 1) === 1 && elementOf(t) >= 0x0010 && elementOf(t) <= 0x00ff) return 'LO'; // private creator
  return attributeByTag(t)?.vr ?? 'UN';
}
