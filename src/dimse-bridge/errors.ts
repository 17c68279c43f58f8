import { statusHex } from '../dicom/status.js';

/** Base class of every failure of the DICOM network layer; `kind` drives the HTTP mapping (docs/conformance.md). */
export abstract class DimseNetworkError extends Error {
  abstract readonly kind:
    'unreachable' | 'rejected' | 'aborted' | 'timeout' | 'status' | 'negotiation' | 'capacity' | 'protocol';
}

/** TCP connect failed (refused, unreachable host, DNS). */
export class PeerUnreachableError extends DimseNetworkError {
  readonly kind = 'unreachable';
  constructor(
    readonly address: string,
    override readonly cause: Error,
  ) {
    super(`cannot connect to ${address}: ${cause.message}`);
    this.name = 'PeerUnreachableError';
  }
}

/** A-ASSOCIATE-RJ (PS3.8 §9.3.4). */
export class AssociationRejectedError extends DimseNetworkError {
  readonly kind = 'rejected';
  constructor(
    readonly result: number,
    readonly source: number,
    readonly reason: number,
  ) {
    super(`association rejected (${describeReject(result, source, reason)})`);
    this.name = 'AssociationRejectedError';
  }
}

/** A-ABORT or a transport close in the middle of an association. */
export class AssociationAbortedError extends DimseNetworkError {
  readonly kind = 'aborted';
  constructor(
    message: string,
    readonly source?: number,
    readonly reason?: number,
  ) {
    super(message);
    this.name = 'AssociationAbortedError';
  }
}

export class DimseTimeoutError extends DimseNetworkError {
  readonly kind = 'timeout';
  constructor(
    readonly phase: 'connect' | 'association' | 'response' | 'release' | 'retrieve',
    readonly timeoutMs: number,
  ) {
    super(
      phase === 'retrieve'
        ? `the retrieval made no progress for ${timeoutMs} ms and was cancelled`
        : `no ${phase === 'response' ? 'DIMSE response' : phase} within ${timeoutMs} ms`,
    );
    this.name = 'DimseTimeoutError';
  }
}

/** A DIMSE response whose status is a failure (PS3.7 Annex C). */
export class DimseStatusError extends DimseNetworkError {
  readonly kind = 'status';
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly errorComment?: string,
  ) {
    super(`${operation} failed with status ${statusHex(status)}${errorComment ? `: ${errorComment}` : ''}`);
    this.name = 'DimseStatusError';
  }
}

/** The peer accepted the association but none of the presentation contexts the operation needs. */
export class NoPresentationContextError extends DimseNetworkError {
  readonly kind = 'negotiation';
  constructor(readonly abstractSyntax: string) {
    super(`the peer accepted no presentation context for ${abstractSyntax}`);
    this.name = 'NoPresentationContextError';
  }
}

/** Every association to the PACS is busy and the wait queue is full or the wait timed out. */
export class PoolExhaustedError extends DimseNetworkError {
  readonly kind = 'capacity';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'PoolExhaustedError';
  }
}

export class ProtocolError extends DimseNetworkError {
  readonly kind = 'protocol';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Human-readable A-ASSOCIATE-RJ fields (PS3.8 Table 9-21). */
export function describeReject(result: number, source: number, reason: number): string {
  const results: Record<number, string> = { 1: 'permanent', 2: 'transient' };
  const sources: Record<number, string> = {
    1: 'service user',
    2: 'service provider (ACSE)',
    3: 'service provider (presentation)',
  };
  const userReasons: Record<number, string> = {
    1: 'no reason given',
    2: 'application context name not supported',
    3: 'calling AE title not recognized',
    7: 'called AE title not recognized',
  };
  const acseReasons: Record<number, string> = { 1: 'no reason given', 2: 'protocol version not supported' };
  const presReasons: Record<number, string> = { 1: 'temporary congestion', 2: 'local limit exceeded' };
  const table = source === 1 ? userReasons : source === 2 ? acseReasons : presReasons;
  return `result ${result} ${results[result] ?? '?'}, source ${source} ${sources[source] ?? '?'}, reason ${reason} ${table[reason] ?? '?'}`;
}
