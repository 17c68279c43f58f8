import {
  DimseNetworkError,
  AssociationRejectedError,
  DimseStatusError,
  DimseTimeoutError,
  PoolExhaustedError,
} from '../../dimse-bridge/errors.js';
import { statusHex } from '../../dicom/status.js';
import { ArchiveError } from '../../archive/archive-error.js';

/** A DIMSE failure as the archive error it means (docs/conformance.md §4.7 has the table down to HTTP). */
export function fromDimseError(err: DimseNetworkError): ArchiveError {
  switch (err.kind) {
    case 'unreachable':
      return new ArchiveError('unreachable', err.message, { reason: 'unreachable' });
    case 'rejected': {
      const rj = err as AssociationRejectedError;
      return new ArchiveError('refused', err.message, {
        reject: { result: rj.result, source: rj.source, reason: rj.reason },
      });
    }
    case 'aborted':
      return new ArchiveError('aborted', err.message);
    case 'timeout':
      return new ArchiveError('timeout', err.message, { phase: (err as DimseTimeoutError).phase });
    case 'status': {
      const se = err as DimseStatusError;
      return new ArchiveError('failed', err.message, {
        dimseStatus: statusHex(se.status),
        ...(se.errorComment ? { errorComment: se.errorComment } : {}),
      });
    }
    case 'negotiation':
      return new ArchiveError('unsupported', err.message);
    case 'capacity':
      return new ArchiveError('busy', err.message, {}, undefined, (err as PoolExhaustedError).retryAfterSeconds);
    case 'protocol':
      return new ArchiveError('protocol', err.message);
  }
}

/** What leaves the DIMSE back end: DIMSE failures as archive errors, each naming `archive`; anything else unchanged. */
export function asArchiveError(err: unknown, archive: string): unknown {
  if (err instanceof DimseNetworkError) return fromDimseError(err).of(archive);
  if (err instanceof ArchiveError) return err.of(archive);
  return err;
}

/** The same promise, its failure said of `archive`. */
export function mappedErrors<T>(promise: Promise<T>, archive: string): Promise<T> {
  return promise.catch((err: unknown) => {
    throw asArchiveError(err, archive);
  });
}

/** The same matches or instances, a failure while iterating said of `archive`; leaving early still reaches the source. */
export async function* mappedIteration<T>(
  source: AsyncIterable<T>,
  archive: string,
): AsyncGenerator<T, void, undefined> {
  try {
    yield* source;
  } catch (err) {
    throw asArchiveError(err, archive);
  }
}
