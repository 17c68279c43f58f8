import { attributeByKeyword, attributeByTag } from '../dicom/dictionary.js';
import { parseHexTag, isPrivateTag, type Tag, tagToHex } from '../dicom/tag.js';
import type { VR } from '../dicom/vr.js';
import { uidProblem } from '../dicom/uid.js';
import type { QueryLevel } from '../dicom/query-attributes.js';
import { Errors } from '../errors.js';
import type { QidoRequest } from '../services/qido-service.js';
import type { MatchKey } from '../archive/archive.js';

/** Query parameters with a meaning of their own (PS3.18 §8.3.4, §8.3.3.1); every other key is an attribute. */
const RESERVED = new Set([
  'includefield',
  'limit',
  'offset',
  'fuzzymatching',
  'emptyvaluematching',
  'multiplevaluematching',
  'accept',
  'charset',
  'removefield',
]);

export type RawQuery = Record<string, string | string[] | undefined>;

export interface QidoScope {
  level: QueryLevel;
  studyUid?: string;
  seriesUid?: string;
}

export interface QidoLimits {
  defaultLimit: number;
  maxLimit: number;
}

/** A resolved attribute path such as 00400275.00401001: parents are sequences. */
export interface AttributePath {
  tags: Tag[];
  vr: VR;
  text: string;
}

/** Resolves "PatientName", "00100010" or a dotted sequence path (PS3.18 §8.3.4.1). */
export function resolveAttributePath(text: string, forMatching: boolean): AttributePath {
  const parts = text.split('.');
  const tags: Tag[] = [];
  let vr: VR = 'UN';
  parts.forEach((part, i) => {
    const hex = parseHexTag(part);
    const info = hex !== undefined ? attributeByTag(hex) : attributeByKeyword(part);
    let t: Tag;
    if (info) {
      t = info.tag;
      vr = info.vr;
    } else if (hex !== undefined && isPrivateTag(hex) && !forMatching) {
      t = hex;
      vr = 'UN';
    } else {
      throw Errors.unknownAttribute(text);
    }
    if (i < parts.length - 1 && vr !== 'SQ')
      throw Errors.badParameter(text, `${part} is not a sequence, so nothing can follow it`);
    tags.push(t);
  });
  return { tags, vr, text };
}

const DATE = /^\d{8}$/;
const TIME = /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/;
const DATETIME = /^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$/;
const MAX_CHARS: Partial<Record<VR, number>> = { AE: 16, CS: 16, SH: 16, LO: 64, AS: 4, IS: 12, DS: 16, UI: 64 };
const WILDCARD_VRS: ReadonlySet<VR> = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UR', 'UT', 'AS']);

/** Days in a month of the Gregorian calendar (DA, PS3.5 Table 6.2-1: a valid date). */
function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** The calendar parts of YYYY[MM[DD]] that are present; 20200230 and 20201301 are both rejected. */
function validCalendar(d: string): boolean {
  const year = Number(d.slice(0, 4));
  if (d.length < 6) return true;
  const month = Number(d.slice(4, 6));
  if (month < 1 || month > 12) return false;
  if (d.length < 8) return true;
  const day = Number(d.slice(6, 8));
  return day >= 1 && day <= daysIn(year, month);
}

function validDate(d: string): boolean {
  return DATE.test(d) && validCalendar(d);
}

/** HH[MM[SS]] in range (60 seconds allowed for a leap second). */
function validClock(t: string): boolean {
  return (
    Number(t.slice(0, 2)) < 24 &&
    (t.length < 4 || Number(t.slice(2, 4)) < 60) &&
    (t.length < 6 || Number(t.slice(4, 6)) < 61)
  );
}

function validTime(t: string): boolean {
  return TIME.test(t) && validClock(t);
}

/** YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX] with every present part in range, the offset within −1200…+1400. */
function validDateTime(v: string): boolean {
  if (!DATETIME.test(v)) return false;
  const offset = /[+-]\d{4}$/.exec(v)?.[0];
  const body = offset ? v.slice(0, -5) : v;
  const digits = body.split('.')[0] ?? '';
  if (!validCalendar(digits.slice(0, 8)) || (digits.length > 8 && !validClock(digits.slice(8)))) return false;
  if (!offset) return true;
  const minutes = Number(offset.slice(1, 3)) * 60 + Number(offset.slice(3, 5));
  return Number(offset.slice(3, 5)) < 60 && (offset[0] === '+' ? minutes <= 14 * 60 : minutes <= 12 * 60);
}

/** Range matching (PS3.4 §C.2.2.2.5): "a-b", "-b", "a-"; both bounds valid and in order. */
function checkRange(name: string, value: string, single: (v: string) => boolean, what: string): void {
  const parts = value.split('-');
  if (parts.length === 1) {
    if (!single(value)) throw Errors.badMatchValue(name, value, `is not a ${what}`);
    return;
  }
  if (parts.length !== 2)
    throw Errors.badMatchValue(name, value, `is not a ${what} or a range of them (from-to, -to or from-)`);
  const [from = '', to = ''] = parts;
  if (from === '' && to === '') throw Errors.badMatchValue(name, value, 'is an empty range');
  if (from !== '' && !single(from)) throw Errors.badMatchValue(name, value, `has a start that is not a ${what}`);
  if (to !== '' && !single(to)) throw Errors.badMatchValue(name, value, `has an end that is not a ${what}`);
  if (from !== '' && to !== '' && from > to)
    throw Errors.badMatchValue(name, value, 'is a range whose start is after its end');
}

/** DT ranges need care: a timezone offset also uses "-". Split on a "-" that is followed by a digit run of a DT. */
function checkDateTimeRange(name: string, value: string): void {
  const candidates: number[] = [];
  for (let i = 0; i < value.length; i++) if (value[i] === '-') candidates.push(i);
  if (candidates.length === 0) {
    if (!validDateTime(value))
      throw Errors.badMatchValue(name, value, 'is not a date-time (YYYYMMDDHHMMSS.FFFFFF&ZZXX)');
    return;
  }
  for (const i of candidates) {
    const from = value.slice(0, i);
    const to = value.slice(i + 1);
    if ((from === '' || validDateTime(from)) && (to === '' || validDateTime(to)) && (from !== '' || to !== '')) return;
  }
  if (validDateTime(value)) return;
  throw Errors.badMatchValue(name, value, 'is not a date-time or a range of them');
}

/** Validates a match value against its VR and returns it as it goes into the C-FIND identifier. */
export function validateMatchValue(name: string, vr: VR, values: readonly string[]): string {
  if (vr === 'UI') {
    // UID list matching (PS3.4 §C.2.2.2.2): comma-separated in QIDO (PS3.18 §8.3.4.1), backslash in DIMSE.
    const uids = values.flatMap((v) => v.split(',')).map((v) => v.trim());
    for (const uid of uids) {
      const problem = uidProblem(uid);
      if (problem) throw Errors.badUid(name, uid, problem);
    }
    return uids.join('\\');
  }
  if (values.length > 1)
    throw Errors.badParameter(name, 'is given more than once; only UID attributes accept several values');
  const value = values[0] ?? '';
  // eslint-disable-next-line no-control-regex
  const controls = /[\x00-\x1f\x7f]/g;
  if (controls.test(value))
    throw Errors.badMatchValue(name, value.replace(controls, '?'), 'contains control characters');
  if (value.includes('\\'))
    throw Errors.badMatchValue(name, value, 'contains a backslash (multiple-value matching is not supported)');
  if (value === '') return value;
  const hasWildcard = /[*?]/.test(value);
  if (hasWildcard && !WILDCARD_VRS.has(vr))
    throw Errors.badMatchValue(name, value, `uses a wildcard, which VR ${vr} does not allow (PS3.4 §C.2.2.2.4)`);
  switch (vr) {
    case 'DA':
      checkRange(name, value, validDate, 'date (YYYYMMDD)');
      break;
    case 'TM':
      checkRange(name, value, validTime, 'time (HHMMSS.FFFFFF)');
      break;
    case 'DT':
      checkDateTimeRange(name, value);
      break;
    case 'IS':
    case 'US':
    case 'UL':
    case 'SS':
    case 'SL':
    case 'UV':
    case 'SV':
      if (!/^[+-]?\d+$/.test(value.trim())) throw Errors.badMatchValue(name, value, 'is not an integer');
      break;
    case 'DS':
    case 'FL':
    case 'FD':
      if (!Number.isFinite(Number(value)) || value.trim() === '')
        throw Errors.badMatchValue(name, value, 'is not a number');
      break;
    case 'SQ':
      throw Errors.badMatchValue(
        name,
        value,
        'is a sequence; match on an attribute inside it (e.g. 00400275.00401001)',
      );
    case 'OB':
    case 'OW':
    case 'OD':
    case 'OF':
    case 'OL':
    case 'OV':
    case 'UN':
    case 'AT':
      throw Errors.badMatchValue(name, value, `has VR ${vr}, which cannot be matched`);
    default:
      break;
  }
  const max = MAX_CHARS[vr];
  if (max !== undefined && !hasWildcard && [...value].length > max)
    throw Errors.badMatchValue(name, value, `is longer than ${max} characters, the most VR ${vr} allows`);
  return value;
}

function single(query: RawQuery, key: string): string | undefined {
  const v = query[key];
  if (Array.isArray(v)) {
    if (v.length > 1) throw Errors.badParameter(key, 'is given more than once');
    return v[0];
  }
  return v;
}

/** The largest limit or offset taken: beyond it no archive pages, and the number would lose precision. */
const MAX_COUNT = 999_999_999;

function wholeNumber(key: string, value: string | undefined, min: 0 | 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw Errors.badParameter(key, `"${value}" is not a whole number of ${min} or more`);
  const n = Number(value);
  if (n > MAX_COUNT) throw Errors.badParameter(key, `${value} is too large (at most ${MAX_COUNT})`);
  // limit=0 would ask for no match at all and be answered "there are more": a client error, said as one.
  if (n < min) throw Errors.badParameter(key, `${value} asks for no matches: give ${min} or more`);
  return n;
}

function booleanParam(key: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw Errors.badParameter(key, `"${value}" must be true or false`);
}

/**
 * Turns a QIDO-RS query string (PS3.18 §8.3.4) into a typed request. Throws GatewayError (400) naming the
 * first bad parameter. Parameters received but not applied are listed in `warnings` (sent as 299 Warnings).
 */
export function parseQidoQuery(scope: QidoScope, query: RawQuery, limits: QidoLimits): QidoRequest {
  const warnings: string[] = [];
  const matches: MatchKey[] = [];
  const includes: Tag[][] = [];
  let includeAll = false;

  for (const [key, raw] of Object.entries(query)) {
    if (raw === undefined || RESERVED.has(key)) continue;
    const values = Array.isArray(raw) ? raw : [raw];
    const path = resolveAttributePath(key, true);
    const value = validateMatchValue(key, path.vr, values);
    const last = path.tags[path.tags.length - 1] as Tag;
    if (path.tags.length === 1 && (last === scopeTag(scope, 'study') || last === scopeTag(scope, 'series'))) {
      throw Errors.badParameter(key, 'is already given in the path of the request');
    }
    matches.push({ path: path.tags, vr: path.vr, value });
  }

  const includeValues =
    query.includefield === undefined
      ? []
      : Array.isArray(query.includefield)
        ? query.includefield
        : [query.includefield];
  for (const entry of includeValues.flatMap((v) => v.split(','))) {
    const name = entry.trim();
    if (name === '') continue;
    if (name === 'all') {
      includeAll = true;
      continue;
    }
    includes.push(resolveAttributePath(name, false).tags);
  }

  let limit = wholeNumber('limit', single(query, 'limit'), 1) ?? limits.defaultLimit;
  if (limit > limits.maxLimit) {
    warnings.push(`limit ${limit} exceeds this gateway's maximum; ${limits.maxLimit} applied`);
    limit = limits.maxLimit;
  }
  const offset = wholeNumber('offset', single(query, 'offset'), 0) ?? 0;
  const fuzzy = booleanParam('fuzzymatching', single(query, 'fuzzymatching'));
  if (booleanParam('emptyvaluematching', single(query, 'emptyvaluematching')))
    warnings.push('emptyvaluematching is not supported and was not applied');
  if (booleanParam('multiplevaluematching', single(query, 'multiplevaluematching')))
    warnings.push('multiplevaluematching is not supported and was not applied');
  if (query.removefield !== undefined) warnings.push('removefield is not supported and was not applied');
  const charset = single(query, 'charset');
  if (charset !== undefined && !/^utf-?8$/i.test(charset.trim()))
    warnings.push(`charset ${charset} is not available; the response is UTF-8`);

  return {
    level: scope.level,
    ...(scope.studyUid ? { studyUid: scope.studyUid } : {}),
    ...(scope.seriesUid ? { seriesUid: scope.seriesUid } : {}),
    matches,
    includes,
    includeAll,
    limit,
    offset,
    fuzzyMatching: fuzzy,
    warnings,
  };
}

function scopeTag(scope: QidoScope, which: 'study' | 'series'): Tag | undefined {
  if (which === 'study' && scope.studyUid) return 0x0020000d;
  if (which === 'series' && scope.seriesUid) return 0x0020000e;
  return undefined;
}

/** Validates a UID taken from the request path. */
export function pathUid(name: string, value: string): string {
  const problem = uidProblem(value);
  if (problem) throw Errors.badUid(name, value, problem);
  return value;
}

export const describePath = (tags: readonly Tag[]): string => tags.map(tagToHex).join('.');
