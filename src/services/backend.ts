import type { Dataset } from '../dicom/dataset.js';

/**
 * An open C-FIND whose first response has arrived: its matches in arrival order. Consumers either iterate to
 * the end or call `matches.return()`; leaving early cancels the query (C-CANCEL) and frees the association.
 */
export interface FindSession {
  /** Whether fuzzy semantic matching of person names is in effect for this query. */
  readonly fuzzyMatchingApplied: boolean;
  readonly matches: AsyncIterableIterator<Dataset> & { return(): Promise<IteratorResult<Dataset>> };
}

export interface EchoResult {
  status: number;
  roundTripMs: number;
}

/**
 * What the services need from the archive behind the gateway. DIMSE is the implementation today
 * (dimse-backend.ts); another archive protocol can implement the same interface.
 */
export interface PacsBackend {
  /** A Study Root C-FIND with the given identifier (its Query/Retrieve Level set). Rejects if the query fails before its first response. */
  find(identifier: Dataset, options: { fuzzyMatching: boolean }): Promise<FindSession>;
  echo(): Promise<EchoResult>;
  close(): Promise<void>;
}
