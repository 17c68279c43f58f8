import { tagToHex, type Tag } from '../../dicom/tag.js';
import { Tags } from '../../dicom/tag.js';
import { toDicomJson, type DicomJsonObject } from '../../dicom/json-model.js';
import { LEVEL_RANK, levelOf, type QueryLevel } from '../../dicom/query-attributes.js';
import { returnKeysByLevel } from '../../archive/return-keys.js';
import type { SearchRequest, SearchResults, SearchMatch } from '../../archive/archive.js';
import { checkSequenceKeys } from '../../archive/sequence-match.js';
import type { PacsPeer } from './pacs-peer.js';
import { buildIdentifier, untilComplete, UNIQUE_KEY, type LevelKeys } from './find.js';

export interface DimseSearchOptions {
  /** A search that fans out over studies asks about at most this many (a 299 Warning says when it stopped). */
  maxFanOutStudies: number;
}

const LEVELS: QueryLevel[] = ['STUDY', 'SERIES', 'IMAGE'];
const CHARSET = tagToHex(Tags.SpecificCharacterSet);
const QR_LEVEL = tagToHex(Tags.QueryRetrieveLevel);

const PEER_CANCELLED =
  'the PACS ended the search early (C-FIND status Cancel, FE00, that the gateway did not request): the results may be incomplete';

/**
 * QIDO-RS over baseline (non-relational) Study Root C-FIND (PS3.4 §C.4.1.2.2, §C.6.2): one C-FIND per level,
 * each carrying the unique keys of the levels above. A search whose scope lacks a higher-level UID, or that
 * needs higher-level attributes, runs the higher level first and fans out over its matches.
 */
export class DimseSearch {
  constructor(
    private readonly peer: PacsPeer,
    private readonly options: DimseSearchOptions,
  ) {}

  /** `signal` aborted: the C-FIND under way is cancelled at once (dimse-client.ts), whatever the PACS is doing. */
  search(request: SearchRequest, signal?: AbortSignal): SearchResults {
    const warnings: string[] = [];
    const state = { truncated: false };
    const stages = this.plan(request);
    const wanted = request.offset + request.limit;
    const peer = this.peer;
    const maxStudies = this.options.maxFanOutStudies;
    let fuzzyWarned = false;
    let sequenceWarned = false;

    /** Re-applies sequence matching keys the PACS may have ignored; warns once when it cannot check them. */
    const passesSequenceKeys = (json: DicomJsonObject, keys: LevelKeys): boolean => {
      const verdict = checkSequenceKeys(json, keys.matches);
      if (verdict === 'unverifiable' && !sequenceWarned) {
        sequenceWarned = true;
        warnings.push(
          'sequence matching keys could not be verified because the PACS did not return the sequence; results may include non-matching entries',
        );
      }
      return verdict !== 'no-match';
    };

    const runFind = async (level: QueryLevel, keys: LevelKeys, parents: { study?: string; series?: string }) => {
      const session = await peer.find(buildIdentifier(level, keys, parents), {
        fuzzyMatching: request.fuzzyMatching,
        signal,
      });
      if (request.fuzzyMatching && !session.fuzzyMatchingApplied && !fuzzyWarned) {
        fuzzyWarned = true;
        warnings.push(
          'fuzzymatching was requested but the PACS did not accept fuzzy semantic matching; exact matching was applied',
        );
      }
      return untilComplete(session, () => warnings.push(PEER_CANCELLED));
    };

    /** Collects the matches of a higher level (bounded) so that the next level can fan out over them. */
    const collect = async (
      level: QueryLevel,
      keys: LevelKeys,
      parents: { study?: string; series?: string },
      cap: number,
      what: string,
    ) => {
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

    async function* matches(): AsyncGenerator<SearchMatch, void, undefined> {
      let seen = 0;
      /** Yields the target-level matches under the given parents, merged with the parents' attributes. */
      async function* descend(
        depth: number,
        parents: { study?: string; series?: string },
        inherited: DicomJsonObject,
      ): AsyncGenerator<SearchMatch, boolean, undefined> {
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
              yield { json, uids: uidsOf(request.level, json, parents) };
            }
          } finally {
            await it.return();
          }
          return true;
        }
        const cap = stage.level === 'STUDY' ? maxStudies : Number.MAX_SAFE_INTEGER;
        const parentsFound = await collect(
          stage.level,
          stage.keys,
          parents,
          cap,
          stage.level === 'STUDY' ? 'studies' : 'series',
        );
        for (const p of parentsFound) {
          const next = stage.level === 'STUDY' ? { study: p.uid } : { ...parents, series: p.uid };
          const keepGoing = yield* descend(
            depth + 1,
            next,
            stage.returnsToClient ? { ...inherited, ...p.json } : inherited,
          );
          if (!keepGoing) return false;
        }
        return true;
      }
      yield* descend(
        0,
        {
          ...(request.studyUid ? { study: request.studyUid } : {}),
          ...(request.seriesUid ? { series: request.seriesUid } : {}),
        },
        {},
      );
    }

    return {
      matches: matches(),
      warnings,
      get truncated() {
        return state.truncated;
      },
    };
  }

  /** Decides which levels to query, in order, and the keys of each. */
  private plan(request: SearchRequest): PlannedStage[] {
    const target = request.level;
    const targetRank = LEVEL_RANK[target];
    const byLevel: Record<QueryLevel, LevelKeys> = {
      STUDY: { matches: [], returns: [] },
      SERIES: { matches: [], returns: [] },
      IMAGE: { matches: [], returns: [] },
    };
    const place = (t: Tag): QueryLevel => {
      const l = levelOf(t);
      if (l === 'ANY') return target;
      // Keys below the target level are sent at the target level: the PACS decides (PS3.18 lets it ignore them).
      return LEVEL_RANK[l] > targetRank ? target : l;
    };
    for (const m of request.matches) byLevel[place(m.path[0] as Tag)].matches.push(m);

    const returns = returnKeysByLevel(request);
    for (const level of LEVELS) byLevel[level].returns.push(...returns[level]);

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
  keys: LevelKeys;
  /** Whether this level's attributes are merged into the results (else it only narrows the fan-out). */
  returnsToClient: boolean;
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

/** The UIDs that locate a match: its own, else the scope's (a PACS may leave out the higher-level keys). */
function uidsOf(
  level: QueryLevel,
  json: DicomJsonObject,
  parents: { study?: string; series?: string },
): SearchMatch['uids'] {
  const study = firstString(json, Tags.StudyInstanceUID) ?? parents.study ?? '';
  if (level === 'STUDY') return { study };
  const series = firstString(json, Tags.SeriesInstanceUID) ?? parents.series ?? '';
  if (level === 'SERIES') return { study, series };
  return { study, series, instance: firstString(json, Tags.SOPInstanceUID) ?? '' };
}
