/**
 * What went wrong in a back end, said by kind and without HTTP: the DICOMweb edge (errors.ts) maps each kind to
 * its status once. `archive` names the archive that failed ("PACS ORTHANC", "the embedded archive"), so that a
 * message never says "the PACS" of an archive that is not one; a back end sets it where it knows its own name.
 */
export type ArchiveErrorKind =
  /** What was asked for is not there (404). */
  | 'not-found'
  /** It cannot be reached at all: connection refused, no route (502). */
  | 'unreachable'
  /** It refused us: an association rejected (502). */
  | 'refused'
  /** It dropped the exchange: an abort, a lost connection (502). */
  | 'aborted'
  /** It answered with a failure status (502). */
  | 'failed'
  /** It cannot do what this request needs: no presentation context (502). */
  | 'unsupported'
  /** It broke the protocol (502). */
  | 'protocol'
  /** Every association to it is busy; `retryAfterSeconds` says when to come back (503). */
  | 'busy'
  /** It did not answer in time (504). */
  | 'timeout'
  /** A readiness check failed (503). */
  | 'not-ready';

export class ArchiveError extends Error {
  constructor(
    readonly kind: ArchiveErrorKind,
    message: string,
    /** Facts for the client beside the message: a DIMSE status, the phase that timed out… */
    readonly detail: Record<string, unknown> = {},
    readonly archive?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ArchiveError';
  }

  /** The same error, said of `archive` unless it already names one. */
  of(archive: string): ArchiveError {
    return this.archive
      ? this
      : new ArchiveError(this.kind, this.message, this.detail, archive, this.retryAfterSeconds);
  }
}
