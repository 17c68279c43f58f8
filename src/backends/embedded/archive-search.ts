import type { MatchKey, SearchMatch, SearchRequest, SearchResults } from '../../archive/archive.js';
import { checkSequenceKeys } from '../../archive/sequence-match.js';
import { returnKeysByLevel } from '../../archive/return-keys.js';
import type { DicomJsonObject } from '../../dicom/json-model.js';
import { LEVEL_RANK, levelOf, type QueryLevel } from '../../dicom/query-attributes.js';
import { tagToHex, Tags, type Tag } from '../../dicom/tag.js';
import { vrOf } from '../../dicom/dictionary.js';
import { fuzzyForm, fuzzyTag, type ArchiveIndex } from './archive-index.js';

const HEX = {
  charset: tagToHex(Tags.SpecificCharacterSet),
  studySeries: '00201206',
  studyInstances: '00201208',
  seriesInstances: '00201209',
  modalities: '00080061',
  sopClasses: '00080062',
  availability: '00080056',
  studyDate: '00080020',
} as const;
/** Attributes the archive computes (PS3.4 §C.3.4): returned, and matched where the query language allows. */
const COUNTS: ReadonlySet<string> = new Set([
  HEX.studySeries,
  HEX.studyInstances,
  HEX.seriesInstances,
  '00201200',
  '00201202',
  '00201204',
]);
const QR_LEVEL = tagToHex(Tags.QueryRetrieveLevel);

/** Rows read per query while sequence keys are re-checked in memory (bounded; the rest follow page by page). */
const PAGE = 500;

interface Row {
  study: string;
  series: string | null;
  sop: string | null;
  own: string;
  series_json: string | null;
  study_json: string | null;
}

/** The entity UID column at each level, for a search whose target is `target`. */
function uidColumn(level: QueryLevel, target: QueryLevel): string {
  if (level === 'STUDY') return 'e.study_uid';
  if (level === 'SERIES') return target === 'STUDY' ? '' : 'e.series_uid';
  return target === 'IMAGE' ? 'e.sop_uid' : '';
}

/** SQL GLOB pattern of a DICOM wildcard value (PS3.4 §C.2.2.2.4): `*` and `?` mean the same; `[` is literal. */
const globOf = (value: string): string => value.replace(/\[/g, '[[]');

/**
 * QIDO-RS over the embedded archive (the same semantics as in front of a PACS, PS3.4 §C.2.2.2): single values,
 * `*`/`?` wildcards, DA/TM/DT ranges, UID lists, ModalitiesInStudy/SOPClassesInStudy against the study's series
 * and instances, person names case-insensitively on the alphabetic group, sequence keys re-checked on the stored
 * attributes, and fuzzymatching as a normalised match (see docs/conformance.md §8.1).
 */
export function searchArchive(index: ArchiveIndex, request: SearchRequest): SearchResults {
  const warnings: string[] = [];
  const state = { truncated: false };
  const target = request.level;
  const conds: string[] = [];
  const params: unknown[] = [];
  const sequenceKeys: { level: QueryLevel; keys: MatchKey[] }[] = [];
  const lookups: ValueLookup[] = [];
  if (request.studyUid) {
    conds.push('e.study_uid = ?');
    params.push(request.studyUid);
  }
  if (request.seriesUid && target !== 'STUDY') {
    conds.push('e.series_uid = ?');
    params.push(request.seriesUid);
  }

  for (const key of request.matches) {
    if (key.value === '') continue; // universal matching: a return key (PS3.4 §C.2.2.2.3)
    const top = key.path[0] as Tag;
    const declared = levelOf(top);
    const level: QueryLevel = declared === 'ANY' ? target : declared;
    const hex = tagToHex(top);
    if (LEVEL_RANK[level] > LEVEL_RANK[target]) {
      warnings.push(`${hex} is an attribute of a lower level than ${target.toLowerCase()}: it was not applied`);
      continue;
    }
    if (key.path.length > 1) {
      const entry = sequenceKeys.find((s) => s.level === level) ?? { level, keys: [] };
      if (!sequenceKeys.includes(entry)) sequenceKeys.push(entry);
      entry.keys.push(key);
      continue;
    }
    if (hex === HEX.modalities || hex === HEX.sopClasses) {
      const [table, column] = hex === HEX.modalities ? ['series', 'modality'] : ['instances', 'sop_class'];
      const values = key.value.split('\\');
      conds.push(
        `EXISTS (SELECT 1 FROM ${table} x WHERE x.study_uid = e.study_uid AND (${values.map(() => `x.${column} GLOB ?`).join(' OR ')}))`,
      );
      params.push(...values.map(globOf));
      continue;
    }
    if (COUNTS.has(hex)) {
      warnings.push(`${hex} is computed by the archive and is not a matching key here: it was not applied`);
      continue;
    }
    const uid = uidColumn(level, target);
    const exists = (tagName: string, cond: string, values: unknown[], perRow = false): void => {
      lookups.push({ level, uid, tagName, cond, values, perRow });
    };
    const vr = key.vr;
    if (vr === 'PN' && request.fuzzyMatching) {
      // Fuzzy: each word of the query is the start of a word of the name, ignoring case and diacritics.
      const words = fuzzyForm(key.value.replace(/[*?]/g, ' ')).split(' ').filter(Boolean);
      for (const w of words) exists(fuzzyTag(hex), 'k.value GLOB ?', [`* ${globOf(w)}*`]);
      continue;
    }
    if (vr === 'UI' && key.value.includes('\\')) {
      const uids = key.value.split('\\');
      exists(hex, `k.value IN (${uids.map(() => '?').join(',')})`, uids);
      continue;
    }
    if ((vr === 'DA' || vr === 'TM' || vr === 'DT') && key.value.includes('-')) {
      const [from = '', to = ''] = key.value.replace(/:/g, '').split('-');
      // A range end stands for the whole of its last component: 1030 → up to 1030 and every second after.
      const [cond, values] =
        from && to
          ? ['k.value >= ? AND k.value <= ?', [from, `${to}\uffff`]]
          : from
            ? ['k.value >= ?', [from]]
            : ['k.value <= ?', [`${to}\uffff`]];
      const onStudyDates = hex === HEX.studyDate && level === 'STUDY';
      if (onStudyDates) {
        // The study's date_time (Study Date, then Time) is indexed in result order: a Study Date range is a range
        // of it that holds every match, walked newest first and left once the page is full — whether the range
        // holds a day or years. The key itself is still checked on each row (a date_time without a date, say).
        const column = target === 'STUDY' ? 'e.date_time' : 'st.date_time';
        if (from) {
          conds.push(`${column} >= ?`);
          params.push(from);
        }
        if (to) {
          conds.push(`${column} <= ?`);
          params.push(`${to}\uffff`);
        }
      }
      exists(hex, cond, values, onStudyDates);
      continue;
    }
    const value = vr === 'PN' ? key.value.toUpperCase() : vr === 'TM' ? key.value.replace(/:/g, '') : key.value;
    if (/[*?]/.test(value)) exists(hex, 'k.value GLOB ?', [globOf(value)]);
    else exists(hex, 'k.value = ?', [value]);
  }

  const wanted = request.offset + request.limit;
  valueConditions(index, target, lookups, wanted, conds, params);

  const from =
    target === 'STUDY'
      ? 'SELECT e.study_uid AS study, NULL AS series, NULL AS sop, e.json AS own, NULL AS series_json, NULL AS study_json FROM studies e'
      : target === 'SERIES'
        ? 'SELECT e.study_uid AS study, e.series_uid AS series, NULL AS sop, e.json AS own, NULL AS series_json, st.json AS study_json FROM series e JOIN studies st ON st.study_uid = e.study_uid'
        : 'SELECT e.study_uid AS study, e.series_uid AS series, e.sop_uid AS sop, e.metadata AS own, se.json AS series_json, st.json AS study_json FROM instances e JOIN series se ON se.series_uid = e.series_uid JOIN studies st ON st.study_uid = e.study_uid';
  // An order that the files alone determine (a reindex answers the same): newest studies first; series and
  // instances by number, then UID.
  const order =
    target === 'STUDY'
      ? 'e.date_time DESC, e.study_uid'
      : target === 'SERIES'
        ? 'st.date_time DESC, e.study_uid, e.number IS NULL, e.number, e.series_uid'
        : 'st.date_time DESC, e.study_uid, se.number IS NULL, se.number, e.series_uid, e.number IS NULL, e.number, e.sop_uid';
  const sql = `${from}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ? OFFSET ?`;
  const statement = index.db.prepare(sql); // its shape varies with the query: not kept
  const returns = returnKeysByLevel(request);

  function* rows(): Generator<Row> {
    // Without sequence keys the database applies offset and limit (one look-ahead row tells truncation).
    if (sequenceKeys.length === 0) {
      yield* statement.all(...params, request.limit + 1, request.offset) as Row[];
      return;
    }
    for (let at = 0; ; at += PAGE) {
      const page = statement.all(...params, PAGE, at) as Row[];
      yield* page;
      if (page.length < PAGE) return;
    }
  }

  async function* matches(): AsyncGenerator<SearchMatch, void, undefined> {
    let seen = sequenceKeys.length === 0 ? request.offset : 0;
    for (const row of rows()) {
      const own = JSON.parse(row.own) as DicomJsonObject;
      const byLevel: Record<QueryLevel, DicomJsonObject> =
        target === 'STUDY'
          ? { STUDY: own, SERIES: {}, IMAGE: {} }
          : target === 'SERIES'
            ? { STUDY: JSON.parse(row.study_json ?? '{}') as DicomJsonObject, SERIES: own, IMAGE: {} }
            : {
                STUDY: JSON.parse(row.study_json ?? '{}') as DicomJsonObject,
                SERIES: JSON.parse(row.series_json ?? '{}') as DicomJsonObject,
                IMAGE: own,
              };
      if (sequenceKeys.some((s) => checkSequenceKeys(byLevel[s.level], s.keys) !== 'match')) continue;
      seen++;
      if (seen > wanted) {
        state.truncated = true;
        return;
      }
      if (seen <= request.offset) continue;
      const json: DicomJsonObject = {};
      for (const level of ['STUDY', 'SERIES', 'IMAGE'] as const) {
        if (LEVEL_RANK[level] > LEVEL_RANK[target]) break;
        pick(json, byLevel[level], returns[level], computed(index, level, row));
      }
      delete json[QR_LEVEL];
      if (json[HEX.charset]) json[HEX.charset] = { vr: 'CS', Value: ['ISO_IR 192'] };
      yield {
        json,
        uids: {
          study: row.study,
          ...(row.series ? { series: row.series } : {}),
          ...(row.sop ? { instance: row.sop } : {}),
        },
      };
    }
  }

  if (request.fuzzyMatching && !request.matches.some((m) => m.vr === 'PN' && m.value !== '')) {
    // Nothing to apply it to: said so that a client does not read the answer as fuzzy-matched.
    warnings.push('fuzzymatching applies to person names only; this search has no person name key');
  }
  return {
    matches: matches(),
    warnings,
    get truncated() {
      return state.truncated;
    },
  };
}

/** A matching key looked up among the indexed values: `cond` on `k.value` (an equality, a GLOB, a range). */
interface ValueLookup {
  level: QueryLevel;
  /** The column of the searched row that holds the entity's UID at `level`. */
  uid: string;
  tagName: string;
  cond: string;
  values: unknown[];
  /** Checked on each row whatever it matches (the rows are already bounded by an index range). */
  perRow: boolean;
}

/** Rows of the searched level, estimated in O(log n) (the largest rowid; replacements only make it larger). */
function rowsEstimate(index: ArchiveIndex, target: QueryLevel): number {
  const table = target === 'STUDY' ? 'studies' : target === 'SERIES' ? 'series' : 'instances';
  return (index.statement(`SELECT COALESCE(MAX(rowid), 0) AS n FROM ${table}`).get() as { n: number }).n;
}

/**
 * The SQL of the value lookups, in the form that costs least for how many entities each key matches.
 * - A key that matches few entities is answered from the value index (`uid IN (…)`): its matches are read and
 *   sorted, whatever the archive's size (a one-patient search, a day).
 * - A key that matches many (a range of years, `PAT*`) is checked per row (a correlated `EXISTS` on the entity's
 *   values, by entity: by value, SQLite would scan the whole range for each row) while the rows are walked in
 *   result order, which stops once the page is full: reading and sorting 100,000 matches took 190 ms.
 * Crossover: the lookup costs ~1.9 µs a match, the walk ~1.3 µs a row over rows/matches × `wanted` rows, so the
 * lookup is cheaper below √(0.7 · wanted · rows) matches; each key is counted only up to that bound.
 */
function valueConditions(
  index: ArchiveIndex,
  target: QueryLevel,
  lookups: readonly ValueLookup[],
  wanted: number,
  conds: string[],
  params: unknown[],
): void {
  if (lookups.length === 0) return;
  const bound = Math.max(100, Math.ceil(Math.sqrt(0.7 * wanted * rowsEstimate(index, target))));
  for (const l of lookups) {
    const count = `SELECT COUNT(*) AS n FROM (SELECT 1 FROM match_values k WHERE k.level = ? AND k.tag = ? AND ${l.cond} LIMIT ?)`;
    const many =
      l.perRow || (index.db.prepare(count).get(l.level, l.tagName, ...l.values, bound) as { n: number }).n >= bound;
    conds.push(
      many
        ? `EXISTS (SELECT 1 FROM match_values k INDEXED BY match_by_entity WHERE k.level = ? AND k.uid = ${l.uid} AND k.tag = ? AND ${l.cond})`
        : `${l.uid} IN (SELECT k.uid FROM match_values k WHERE k.level = ? AND k.tag = ? AND ${l.cond})`,
    );
    params.push(l.level, l.tagName, ...l.values);
  }
}

/** The computed attributes of an entity at one level, when they are asked for. */
function computed(
  index: ArchiveIndex,
  level: QueryLevel,
  row: Row,
): (hex: string) => DicomJsonObject[string] | undefined {
  return (hex) => {
    if (level === 'STUDY') {
      if (hex === HEX.studySeries)
        return { vr: 'IS', Value: [count(index, 'SELECT COUNT(*) AS n FROM series WHERE study_uid = ?', row.study)] };
      if (hex === HEX.studyInstances)
        return {
          vr: 'IS',
          Value: [count(index, 'SELECT COUNT(*) AS n FROM instances WHERE study_uid = ?', row.study)],
        };
      if (hex === HEX.modalities)
        return values(
          'CS',
          index,
          "SELECT DISTINCT modality AS v FROM series WHERE study_uid = ? AND modality <> '' ORDER BY modality",
          row.study,
        );
      if (hex === HEX.sopClasses)
        return values(
          'UI',
          index,
          'SELECT DISTINCT sop_class AS v FROM instances WHERE study_uid = ? ORDER BY sop_class',
          row.study,
        );
    }
    if (level === 'SERIES' && hex === HEX.seriesInstances)
      return {
        vr: 'IS',
        Value: [count(index, 'SELECT COUNT(*) AS n FROM instances WHERE series_uid = ?', row.series ?? '')],
      };
    if (hex === HEX.availability) return { vr: 'CS', Value: ['ONLINE'] };
    return undefined;
  };
}

const count = (index: ArchiveIndex, sql: string, uid: string): number =>
  (index.statement(sql).get(uid) as { n: number }).n;

function values(vr: 'CS' | 'UI', index: ArchiveIndex, sql: string, uid: string): DicomJsonObject[string] {
  const list = (index.statement(sql).all(uid) as { v: string }[]).map((r) => r.v);
  return list.length ? { vr, Value: list } : { vr };
}

/** Copies the requested attributes (a sequence whole when a path inside it is asked); absent ones empty. */
function pick(
  into: DicomJsonObject,
  from: DicomJsonObject,
  paths: readonly Tag[][],
  computedValue: (hex: string) => DicomJsonObject[string] | undefined,
): void {
  for (const path of paths) {
    const top = path[0] as Tag;
    const hex = tagToHex(top);
    if (into[hex]) continue;
    const value = computedValue(hex) ?? from[hex];
    // Binary values are WADO's (metadata, bulk data), not a search result's: an includefield of one gets it empty.
    into[hex] =
      value && value.BulkDataURI === undefined && value.InlineBinary === undefined
        ? value
        : { vr: value?.vr ?? vrOf(top) };
  }
}
