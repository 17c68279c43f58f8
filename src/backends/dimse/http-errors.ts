import {
  DimseNetworkError,
  AssociationRejectedError,
  DimseStatusError,
  DimseTimeoutError,
  PoolExhaustedError,
} from '../../dimse-bridge/errors.js';
import { statusHex } from '../../dicom/status.js';
import { Errors, GatewayError, withDetails, withHeaders } from '../../errors.js';

/** The DIMSE → HTTP mapping (documented as a table in docs/conformance.md §4.7). */
export function fromDimseError(err: DimseNetworkError): GatewayError {
  switch (err.kind) {
    case 'unreachable':
      return withDetails(Errors.pacsUnreachable(err.message), { reason: 'unreachable' });
    case 'rejected': {
      const rj = err as AssociationRejectedError;
      return withDetails(Errors.pacsRejected(err.message), {
        reject: { result: rj.result, source: rj.source, reason: rj.reason },
      });
    }
    case 'aborted':
      return Errors.pacsAborted(err.message);
    case 'timeout':
      return withDetails(Errors.pacsTimeout(err.message), { phase: (err as DimseTimeoutError).phase });
    case 'status': {
      const se = err as DimseStatusError;
      return withDetails(Errors.pacsFailed(err.message), {
        dimseStatus: statusHex(se.status),
        ...(se.errorComment ? { errorComment: se.errorComment } : {}),
      });
    }
    case 'negotiation':
      return Errors.pacsNegotiation(err.message);
    case 'capacity':
      return withHeaders(Errors.pacsBusy(err.message), {
        'retry-after': String((err as PoolExhaustedError).retryAfterSeconds),
      });
    case 'protocol':
      return Errors.pacsProtocol(err.message);
  }
}

/** What leaves the DIMSE back end: DIMSE failures as the HTTP errors they mean; anything else unchanged. */
export function asHttpError(err: unknown): unknown {
  return err instanceof DimseNetworkError ? fromDimseError(err) : err;
}

/** The same promise, its DIMSE failure mapped. */
export function mappedErrors<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((err: unknown) => {
    throw asHttpError(err);
  });
}

/** The same matches or instances, a DIMSE failure while iterating mapped; leaving early still reaches the source. */
export async function* mappedIteration<T>(source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  try {
    yield* source;
  } catch (err) {
    throw asHttpError(err);
  }
}
