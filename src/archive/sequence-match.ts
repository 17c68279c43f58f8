import type { DicomJsonObject, JsonValue, PersonNameJson } from '../dicom/json-model.js';
import { tagToHex, type Tag } from '../dicom/tag.js';
import type { MatchKey } from './archive.js';

/** What checking a match against sequence keys found. */
export type SequenceVerdict = 'match' | 'no-match' | 'unverifiable';

/**
 * Many PACS ignore sequence matching (PS3.4 §C.2.2.2.6) and return every candidate: DCMTK's dcmqrscp and
 * Orthanc 1.10 both do. The gateway re-applies sequence keys to what comes back. When the PACS does not even
 * return the sequence, the key cannot be checked and the caller warns.
 */
export function checkSequenceKeys(json: DicomJsonObject, keys: readonly MatchKey[]): SequenceVerdict {
  let verdict: SequenceVerdict = 'match';
  for (const key of keys) {
    if (key.path.length < 2 || key.value === '') continue;
    const r = matchPath(json, key.path, key.value);
    if (r === 'no-match') return 'no-match';
    if (r === 'unverifiable') verdict = 'unverifiable';
  }
  return verdict;
}

function matchPath(json: DicomJsonObject, path: readonly Tag[], value: string): SequenceVerdict {
  const [head, ...rest] = path;
  if (head === undefined) return 'unverifiable';
  const attr = json[tagToHex(head)];
  if (!attr) return 'unverifiable';
  if (rest.length === 0) return (attr.Value ?? []).some((v) => valueMatches(v, value)) ? 'match' : 'no-match';
  const items = (attr.Value ?? []) as DicomJsonObject[];
  if (items.length === 0) return 'no-match';
  let sawUnverifiable = false;
  for (const item of items) {
    const r = matchPath(item, rest, value);
    if (r === 'match') return 'match';
    if (r === 'unverifiable') sawUnverifiable = true;
  }
  return sawUnverifiable ? 'unverifiable' : 'no-match';
}

/** Single value and wildcard matching (PS3.4 §C.2.2.2.1, §C.2.2.2.4); ranges are left to the PACS. */
function valueMatches(v: JsonValue, pattern: string): boolean {
  if (v === null) return false;
  const text = typeof v === 'object' ? ((v as PersonNameJson).Alphabetic ?? '') : String(v);
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    's',
  );
  return regex.test(text);
}
