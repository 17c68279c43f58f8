import type { DicomJsonObject } from '../dicom/json-model.js';
import type { QueryLevel } from '../dicom/query-attributes.js';
import type { Tag } from '../dicom/tag.js';
import type { VR } from '../dicom/vr.js';
import type { CallOptions } from './cancellation.js';

/**
 * The seam between the DICOMweb services and whatever holds the images: a PACS reached over DIMSE
 * (backends/dimse/) or the gateway's own embedded archive (backends/embedded/). Everything here is said in
 * DICOMweb terms — levels, match keys, scopes, held instances — never in C-FIND identifiers or C-MOVE results, so
 * that a back end that is not DIMSE need not fake them. Errors leave a back end as ArchiveErrors by kind
 * (archive-error.ts), naming the archive; the DICOMweb edge maps them to HTTP (errors.ts).
 */
export interface Archive {
  /** How messages name it ("PACS ORTHANC", "the embedded archive"): errors say which archive failed. */
  readonly name: string;
  /**
   * Matches of one level (PS3.18 §10.6), in the order the archive finds them. Rejects only through `matches`;
   * an aborted `signal` ends them (a C-FIND is cancelled) with the signal's reason.
   */
  search(request: SearchRequest, options?: CallOptions): SearchResults;
  /**
   * The instances of a study, series or instance as they become available. Rejects 404 when the archive has none;
   * an aborted `signal` stops the wait and the stream, letting go of the retrieval, with the signal's reason.
   */
  open(scope: RetrieveScope, options?: CallOptions): Promise<InstanceStream>;
  /** What a study or series holds, series by series (by Series Number), instances by Instance Number. */
  catalog(scope: RetrieveScope): Promise<CatalogInstance[][]>;
  /** Whether `open(scope)` is answered by what the gateway holds, with no work for a remote archive (rate limits). */
  holdsLocally(scope: RetrieveScope): boolean;
  /**
   * Each instance's DICOM JSON as the archive keeps it (BulkDataURIs relative: "bulkdata/7FE00010"), for
   * `/metadata` without reading files; absent, or undefined for a scope, when the archive keeps none (then the
   * files are read).
   */
  storedMetadata?(scope: RetrieveScope): Promise<StoredMetadata[] | undefined>;
  /**
   * Takes in one instance (PS3.4 §B.2.3 status; Success only once it is durable and indexed). Absent where the
   * archive takes none: in front of a PACS (until STOW-RS forwards by C-STORE).
   */
  storeInstance?(incoming: IncomingDataset): Promise<StoreStatus>;
  /** Ready to answer, with what that was judged on (`/readyz`); rejects with DWG_NOT_READY and the reason. */
  readiness(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** One matching key: a tag path (sequence parents first), its VR and the value in DICOM matching syntax (PS3.4 §C.2.2.2), validated. */
export interface MatchKey {
  path: Tag[];
  vr: VR;
  value: string;
}

/** A search of one level (PS3.18 §10.6.1), validated by the route. */
export interface SearchRequest {
  level: QueryLevel;
  /** Scope from the path: the study (and series) searched within. */
  studyUid?: string;
  seriesUid?: string;
  matches: MatchKey[];
  /** includefield attributes (tag paths) beyond the level's defaults. */
  includes: Tag[][];
  /** includefield=all. */
  includeAll: boolean;
  limit: number;
  offset: number;
  fuzzyMatching: boolean;
}

/** A match and the UIDs that locate it (for its RetrieveURL). */
export interface SearchMatch {
  json: DicomJsonObject;
  uids: { study: string; series?: string; instance?: string };
}

export interface SearchResults {
  /** Matches after `offset`, at most `limit`, each a DICOM JSON object (Unicode, tag order not guaranteed). */
  readonly matches: AsyncGenerator<SearchMatch, void, undefined>;
  /** What was received and not applied, or applied only in part (299 Warnings); grows while the search runs. */
  readonly warnings: readonly string[];
  /** True once more than offset+limit matches were seen (final after `matches` ends). */
  readonly truncated: boolean;
  /**
   * Resolves when no Warning can come any more, where warnings may grow after the first match (several archives:
   * one that misses its deadline is named when it does). The answer's headers wait for it.
   */
  readonly settled?: Promise<void>;
}

/** The same results with their matches passed through `wrap` (mapped, made abortable), warnings and truncation as they are. */
export function withMatches(
  results: SearchResults,
  wrap: (matches: SearchResults['matches']) => SearchResults['matches'],
): SearchResults {
  return {
    matches: wrap(results.matches),
    get warnings() {
      return results.warnings;
    },
    get truncated() {
      return results.truncated;
    },
    ...(results.settled ? { settled: results.settled } : {}),
  };
}

/** An instance to store: its dataset as sent (no File Meta Information), in `transferSyntaxUid`. */
export interface IncomingDataset {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  /** Who sends it (kept as Source Application Entity Title in the file's meta information). */
  source: string;
  dataset: AsyncIterable<Buffer>;
  /** A further check of the whole dataset before it is kept (STOW-RS: the path's study); a status refuses it. */
  verify?(arrived: { studyInstanceUid: string; seriesInstanceUid: string }): StoreStatus | undefined;
}

/** A storage status (PS3.4 §B.2.3) and, unless Success, why. */
export interface StoreStatus {
  status: number;
  comment?: string;
}

/** One instance's metadata as an archive stored it. */
export interface StoredMetadata {
  instance: ArchivedInstance;
  metadata: DicomJsonObject;
}

/** A study, one of its series, or one instance (PS3.18 §10.4.1 target resources). */
export interface RetrieveScope {
  study: string;
  series?: string;
  instance?: string;
}

/** An instance as a Part 10 file the gateway holds on disk. */
export interface ArchivedInstance {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  /** Series Number and Instance Number (0020,0011/0013), for ordering as a catalog would. */
  seriesNumber?: number | undefined;
  instanceNumber?: number | undefined;
  path: string;
  bytes: number;
}

/** An instance handed to a consumer: its file stays in place until `release()`. */
export interface HeldInstance {
  instance: ArchivedInstance;
  release(): void;
  /** Another hold on the same file, released on its own (a stream that outlives the request's hold). */
  holdAgain(): () => void;
}

/** The instances of a scope, as they become available. */
export interface InstanceStream extends AsyncIterable<HeldInstance> {
  /** True when the whole scope was served from what the gateway holds. */
  readonly fromCache: boolean;
  /** Instances the archive listed that could not be had (final once iteration ends). */
  readonly missing: number;
  /** Instances the remote archive reported as failed to send. */
  readonly failedSubOperations: number;
}

export interface CatalogInstance {
  uid: string;
  seriesUid: string;
  sopClassUid: string;
  number: number | undefined;
}

/** "study S", "series X of study S", "instance I of series X of study S": for messages. */
export function describeScope(scope: RetrieveScope): string {
  if (scope.instance) return `instance ${scope.instance} of series ${scope.series ?? '?'} of study ${scope.study}`;
  if (scope.series) return `series ${scope.series} of study ${scope.study}`;
  return `study ${scope.study}`;
}
