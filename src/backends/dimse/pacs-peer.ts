import type { Dataset } from '../../dicom/dataset.js';
import type { MoveProgress, MoveResult, StoreRequestHandler } from '../../dimse-bridge/dimse-client.js';

/**
 * An open C-FIND whose first response has arrived: its matches in arrival order. Consumers either iterate to
 * the end or call `matches.return()`; leaving early cancels the query (C-CANCEL) and frees the association.
 */
export interface FindSession {
  /** Whether fuzzy semantic matching of person names is in effect for this query. */
  readonly fuzzyMatchingApplied: boolean;
  /** True once the PACS ended the query with Cancel (FE00) that we did not ask for: the matches are incomplete. */
  readonly cancelledByPeer: boolean;
  readonly matches: AsyncIterableIterator<Dataset> & { return(): Promise<IteratorResult<Dataset>> };
}

export interface EchoResult {
  status: number;
  roundTripMs: number;
}

/** What to retrieve: one study, series or instance (PS3.4 §C.4.2/§C.4.3, Study Root). */
export interface RetrieveRequest {
  level: 'STUDY' | 'SERIES' | 'IMAGE';
  studyUid: string;
  seriesUid?: string;
  sopInstanceUid?: string;
  /** The SOP classes the PACS will send (for C-GET storage contexts); empty: a default set. */
  sopClassUids: readonly string[];
}

/**
 * What the DIMSE back end reports of its work to PACS, each operation once, when it ends (the metrics listen;
 * nothing depends on being observed).
 */
export interface PacsObserver {
  /** A C-FIND ended: from its request to its final response, to the client giving up on it, or to a failure. */
  findEnded(seconds: number, outcome: 'success' | 'cancelled' | 'failure'): void;
  /**
   * A C-MOVE or C-GET ended. `firstInstanceSeconds`: from its request to the first instance of it that arrived,
   * absent when none did.
   */
  retrievalEnded(ended: {
    method: 'move' | 'get';
    seconds: number;
    firstInstanceSeconds?: number;
    instances: number;
    failedSubOperations: number;
    outcome: 'success' | 'failure';
  }): void;
}

export interface RetrieveHooks {
  /** C-MOVE: the Message ID that arriving sub-operations may carry as Move Originator Message ID. */
  onStarted?(messageId: number): void;
  onProgress?(progress: MoveProgress): void;
  /** C-GET: where each sub-operation's dataset goes (C-MOVE sub-operations reach the Storage SCP instead). */
  receive: StoreRequestHandler;
  /** Aborting sends C-CANCEL; the retrieval then ends with status FE00. */
  signal?: AbortSignal;
}

/**
 * The PACS as the DIMSE back end uses it: C-FIND, the retrieval (C-MOVE or C-GET) and C-ECHO. Implemented over
 * an association pool (pacs-connection.ts); tests put a fake behind it.
 */
export interface PacsPeer {
  /** A Study Root C-FIND with the given identifier (its Query/Retrieve Level set). Rejects if the query fails before its first response. */
  find(
    identifier: Dataset,
    options: { fuzzyMatching: boolean; signal?: AbortSignal | undefined },
  ): Promise<FindSession>;
  /** True when retrieved instances reach the gateway's Storage SCP (C-MOVE), false when they come back on the retrieval (C-GET). */
  readonly deliversToStorageScp: boolean;
  /** True when `retrieve` needs the listing first (C-GET proposes contexts for the listed SOP classes). */
  readonly listsBeforeRetrieving: boolean;
  /** Has the PACS send the instances (C-MOVE to our Storage SCP, or C-GET); resolves with the final counts. */
  retrieve(request: RetrieveRequest, hooks: RetrieveHooks): Promise<MoveResult>;
  echo(): Promise<EchoResult>;
  close(): Promise<void>;
}
