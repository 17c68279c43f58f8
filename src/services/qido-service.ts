import { Dataset } from '../dicom/dataset.js';
import { Tags, tagToHex, type Tag } from '../dicom/tag.js';
import type { VR } from '../dicom/vr.js';
import { vrOf } from '../dicom/dictionary.js';
import { toDicomJson, type DicomJsonObject } from '../dicom/json-model.js';
import { DEFAULT_RETURN_KEYS, ALL_RETURN_KEYS, LEVEL_RANK, levelOf, type QueryLevel } from '../dicom/query-attributes.js';
import type { PacsBackend, FindSession } from './backend.js';
import { Errors, withDetails } from '../errors.js';
import { checkSequenceKeys } from './sequence-match.js';

/** One matching key: a tag path (sequence parents first), its VR and the DIMSE-ready value. */
export interface MatchKey {
  path: Tag[];
  vr: VR;
  value: string;
}

/** A QIDO-RS search (PS3.18 §10.6), as the routes hand it over. */
export interface QidoRequest {
  level: QueryLevel;
  studyUid?: string;
  seriesUid?: string;
  matches: MatchKey[];
  includes: Tag[][];
  includeAll: boolean;
  limit: number;
  offset: number;
  fuzzyMatching: boolean;
  /** Parameters received but not applied, explained for 299 Warnings. */
  warnings: string[];
}

export interface QidoSearch {
  /** Matches after offset, at most `limit`, as DICOM JSON with RetrieveURL. */
  readonly matches: AsyncGenerator<DicomJsonObject, void, undefined>;
  /** Grows while the search runs (fuzzy matching refused, fan-out capped); read it when answering. */
  readonly warnings: string[];
  /** True once more than offset+limit matches were seen (final after `matches` ends). */
  readonly truncated: boolean;
}

export interface QidoServiceOptions {
  maxFanOutStudies: number;
}

const UNIQUE_KEY: Record<QueryLevel, Tag> = { STUDY: Tags.StudyInstanceUID, SERIES: Tags.SeriesInstanceUID, IMAGE: Tags.SOPInstanceUID };
const LEVELS: QueryLevel[] = ['STUDY', 'SERIES', 'IMAGE'];
const RETRIEVE_URL = tagToHex(Tags.RetrieveURL);
const CHARSET = tagToHex(Tags.SpecificCharacterSet);
const QR_LEVEL = tagToHex(Tags.QueryRetrieveLevel);

/** Builds the RetrieveURL (0008,1190) of a match from its UIDs. */
export type RetrieveUrlBuilder = (uids: { study: string; series?: string; instance?: string }) => string;

/** The keys of one Study Root level: what to match on and what to return. */
interface StageKeys {
  matches: MatchKey[];
  returns: Tag[][];
}

const PEER_CANCELLED = 'the PACS ended the search early (C-FIND status Cancel, FE00, that the gateway did not request): the results may be incomplete';

/**
 * A C-FIND's matches, checked at the end: cut short by the PACS (Cancel we did not send) with nothing delivered is
 * a failure (502); with some delivered, `onPartial` says so (a 299 Warning), never a silent short answer.
 */
export async function* untilComplete(session: FindSession, onPartial: () => void): AsyncGenerator<Dataset, void, undefined> {
  let delivered = 0;
  try {
    for await (const ds of session.matches) {
      delivered++;
      yield ds;
    }
  } finally {
    await session.matches.return();
  }
  if (!session.cancelledByPeer) return;
  if (delivered === 0) throw withDetails(Errors.pacsFailed('the PACS cancelled the C-FIND (status FE00) without being asked to, before any match'), { dimseStatus: '0xFE00' });
  onPartial();
}

/**
 * QIDO-RS over baseline (non-relational) Study Root C-FIND (PS3.4 §C.4.1.2.2, §C.6.2): one C-FIND per level,
 * each carrying the unique keys of the levels above. A search whose scope lacks a higher-level UID, or that
 * needs higher-level attributes, runs the higher level first and fans out over its matches.
 */
export class QidoService {
  constructor(private readonly backend: PacsBackend, private readonly options: QidoServiceOptions) {}

  search(request: QidoRequest, retrieveUrl: RetrieveUrlBuilder): QidoSearch {
    const warnings = [...request.warnings];
    const state = { truncated: false };
    const stages = this.plan(request);
    const wanted = request.offset + request.limit;
    const backend = this.backend;
    const maxStudies = this.options.maxFanOutStudies;
    let fuzzyWarned = false;
    let sequenceWarned = false;

    /** Re-applies sequence matching keys the PACS may have ignored; warns once when it cannot check them. */
    const passesSequenceKeys = (json: DicomJsonObject, keys: StageKeys): boolean => {
      const verdict = checkSequenceKeys(json, keys.matches);
      if (verdict === 'unverifiable' && !sequenceWarned) {
        sequenceWarned = true;
        warnings.push('sequence matching keys could not be verified because the PACS did not return the sequence; results may include non-matching entries');
      }
      return verdict !== 'no-match';
    };

    const runFind = async (level: QueryLevel, keys: StageKeys, parents: { study?: string; series?: string }) => {
      const session = await backend.find(buildIdentifier(level, keys, parents), { fuzzyMatching: request.fuzzyMatching });
      if (request.fuzzyMatching && !session.fuzzyMatchingApplied && !fuzzyWarned) {
        fuzzyWarned = true;
        warnings.push('fuzzymatching was requested but the PACS did not accept fuzzy semantic matching; exact matching was applied');
      }
      return untilComplete(session, () => warnings.push(PEER_CANCELLED));
    };

    /** Collects the matches of a higher level (bounded) so that the next level can fan out over them. */
    const collect = async (level: QueryLevel, keys: StageKeys, parents: { study?: string; series?: string }, cap: number, what: string) => {
      const out: { json: DicomJsonObject; uid: string }[] = [];
      const it = await runFind(level, keys, parents);
      try {
        for await (const ds of it) {
          const uid = ds.getString(UNIQUE_KEY[level]);
          if (!uid) continue;
          const json = cleaned(toDicomJson(ds));
          if (!passesSequenceKeys(json, keys)) continue;
          if (out.length >= cap) {
            warnings.push(`the search was limited to the first ${cap} ${what}; narrow it with more matching keys`);
            break;
          }
          out.push({ json, uid });
        }
      } finally {
        await it.return();
      }
      return out;
    };

    async function* matches(): AsyncGenerator<DicomJsonObject, void, undefined> {
      let seen = 0;
      /** Yields the target-level matches under the given parents, merged with the parents' attributes. */
      async function* descend(depth: number, parents: { study?: string; series?: string }, inherited: DicomJsonObject): AsyncGenerator<DicomJsonObject, boolean, undefined> {
        const stage = stages[depth] as PlannedStage;
        if (stage.level === request.level) {
          const it = await runFind(stage.level, stage.keys, parents);
          try {
            for await (const ds of it) {
              const converted = cleaned(toDicomJson(ds));
              if (!passesSequenceKeys(converted, stage.keys)) continue;
              seen++;
              if (seen > wanted) {
                state.truncated = true;
                return false;
              }
              if (seen <= request.offset) continue;
              const json: DicomJsonObject = { ...inherited, ...converted };
              json[RETRIEVE_URL] = { vr: 'UR', Value: [urlFor(request.level, json, parents, retrieveUrl)] };
              yield sortedByTag(json);
            }
          } finally {
            await it.return();
          }
          return true;
        }
        const cap = stage.level === 'STUDY' ? maxStudies : Number.MAX_SAFE_INTEGER;
        const parentsFound = await collect(stage.level, stage.keys, parents, cap, stage.level === 'STUDY' ? 'studies' : 'series');
        for (const p of parentsFound) {
          const next = stage.level === 'STUDY' ? { study: p.uid } : { ...parents, series: p.uid };
          const keepGoing = yield* descend(depth + 1, next, stage.returnsToClient ? { ...inherited, ...p.json } : inherited);
          if (!keepGoing) return false;
        }
        return true;
      }
      yield* descend(0, { ...(request.studyUid ? { study: request.studyUid } : {}), ...(request.seriesUid ? { series: request.seriesUid } : {}) }, {});
    }

    return {
      matches: matches(),
      warnings,
      get truncated() { return state.truncated; },
    };
  }

  /** Decides which levels to query, in order, and the keys of each. */
  private plan(request: QidoRequest): PlannedStage[] {
    const target = request.level;
    const targetRank = LEVEL_RANK[target];
    const byLevel: Record<QueryLevel, StageKeys> = { STUDY: { matches: [], returns: [] }, SERIES: { matches: [], returns: [] }, IMAGE: { matches: [], returns: [] } };
    const place = (t: Tag): QueryLevel => {
      const l = levelOf(t);
      if (l === 'ANY') return target;
      // Keys below the target level are sent at the target level: the PACS decides (PS3.18 lets it ignore them).
      return LEVEL_RANK[l] > targetRank ? target : l;
    };
    for (const m of request.matches) byLevel[place(m.path[0] as Tag)].matches.push(m);

    // Return keys: the target's defaults (or all), the defaults of the higher levels PS3.18 §10.6.3.3 asks for,
    // and includefield attributes at the target level or above (lower ones are not returned).
    const defaults = request.includeAll ? ALL_RETURN_KEYS : DEFAULT_RETURN_KEYS;
    for (const t of defaults[target]) byLevel[target].returns.push([t]);
    const parentLevelsReturned: QueryLevel[] = [];
    if (target === 'SERIES' && !request.studyUid) parentLevelsReturned.push('STUDY');
    if (target === 'IMAGE' && !request.studyUid) parentLevelsReturned.push('STUDY', 'SERIES');
    if (target === 'IMAGE' && request.studyUid && !request.seriesUid) parentLevelsReturned.push('SERIES');
    for (const l of parentLevelsReturned) for (const t of defaults[l]) byLevel[l].returns.push([t]);
    for (const path of request.includes) {
      const l = levelOf(path[0] as Tag);
      const level = l === 'ANY' ? target : l;
      if (LEVEL_RANK[level] <= targetRank) byLevel[level].returns.push(path);
    }

    const stages: PlannedStage[] = [];
    for (const level of LEVELS) {
      const rank = LEVEL_RANK[level];
      if (rank > targetRank) break;
      if (level === target) {
        stages.push({ level, keys: byLevel[level], returnsToClient: true });
        break;
      }
      const scoped = level === 'STUDY' ? request.studyUid : request.seriesUid;
      const keys = byLevel[level];
      const needed = !scoped || keys.matches.length > 0 || keys.returns.length > 0;
      if (needed) stages.push({ level, keys, returnsToClient: keys.returns.length > 0 });
    }
    return stages;
  }
}

interface PlannedStage {
  level: QueryLevel;
  keys: StageKeys;
  /** Whether this level's attributes are merged into the results (else it only narrows the fan-out). */
  returnsToClient: boolean;
}

/** The C-FIND identifier of one level (PS3.4 §C.4.1.1.3): level, charset, unique keys above, return and match keys. */
export function buildIdentifier(level: QueryLevel, keys: StageKeys, parents: { study?: string; series?: string }): Dataset {
  const ds = new Dataset();
  ds.setText(Tags.QueryRetrieveLevel, level, 'CS');
  ds.setText(Tags.SpecificCharacterSet, 'ISO_IR 192', 'CS');
  for (const path of keys.returns) setPath(ds, path, undefined, undefined);
  ds.setEmpty(UNIQUE_KEY[level]);
  if (level !== 'STUDY') ds.setEmpty(Tags.StudyInstanceUID);
  if (level === 'IMAGE') ds.setEmpty(Tags.SeriesInstanceUID);
  for (const m of keys.matches) setPath(ds, m.path, m.vr, m.value);
  if (parents.study && level !== 'STUDY') ds.setText(Tags.StudyInstanceUID, parents.study, 'UI');
  if (parents.series && level === 'IMAGE') ds.setText(Tags.SeriesInstanceUID, parents.series, 'UI');
  if (parents.study && level === 'STUDY') ds.setText(Tags.StudyInstanceUID, parents.study, 'UI');
  if (parents.series && level === 'SERIES') ds.setText(Tags.SeriesInstanceUID, parents.series, 'UI');
  return ds;
}

/** Sets a (possibly nested) key: sequences get one item holding the nested keys (sequence matching, PS3.4 §C.2.2.2.6). */
function setPath(ds: Dataset, path: readonly Tag[], vr: VR | undefined, value: string | undefined): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length === 0) {
    const existing = ds.get(head);
    if (value === undefined) {
      if (!existing) ds.setEmpty(head, vr ?? vrOf(head));
      return;
    }
    ds.setText(head, value, vr ?? vrOf(head));
    return;
  }
  const existing = ds.get(head);
  let item: Dataset;
  if (existing?.vr === 'SQ' && existing.items[0]) {
    item = existing.items[0];
  } else {
    item = new Dataset();
    ds.setSequence(head, [item]);
  }
  setPath(item, rest, vr, value);
}

/** Drops what a QIDO response must not carry and states the charset of the (Unicode) JSON. */
function cleaned(json: DicomJsonObject): DicomJsonObject {
  delete json[QR_LEVEL];
  if (json[CHARSET]) json[CHARSET] = { vr: 'CS', Value: ['ISO_IR 192'] };
  return json;
}

function firstString(json: DicomJsonObject, t: Tag): string | undefined {
  const v = json[tagToHex(t)]?.Value?.[0];
  return typeof v === 'string' ? v : undefined;
}

function urlFor(level: QueryLevel, json: DicomJsonObject, parents: { study?: string; series?: string }, build: RetrieveUrlBuilder): string {
  const study = firstString(json, Tags.StudyInstanceUID) ?? parents.study ?? '';
  if (level === 'STUDY') return build({ study });
  const series = firstString(json, Tags.SeriesInstanceUID) ?? parents.series ?? '';
  if (level === 'SERIES') return build({ study, series });
  return build({ study, series, instance: firstString(json, Tags.SOPInstanceUID) ?? '' });
}

/** DICOM JSON objects list attributes in tag order (PS3.18 F.2 examples; what clients diff against). */
function sortedByTag(json: DicomJsonObject): DicomJsonObject {
  const out: DicomJsonObject = {};
  for (const key of Object.keys(json).sort()) out[key] = json[key] as DicomJsonObject[string];
  return out;
}
