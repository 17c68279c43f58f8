import { format } from 'node:util';
import { CodecPoolBusyError } from './codecs/codec-pool.js';
import { ArchiveError, type ArchiveErrorKind } from './archive/archive-error.js';

/**
 * Every error the HTTP layer can answer with, in one registry (Fastify's `@fastify/error` style: a code,
 * an HTTP status and a message template). The error handler in app.ts is the only place that turns them
 * into responses: `{ "error": CODE, "status": N, "message": "...", ...details }`.
 */
export class GatewayError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  toBody(): Record<string, unknown> {
    return { error: this.code, status: this.statusCode, message: this.message, ...this.details };
  }
}

interface ErrorDefinition {
  code: string;
  statusCode: number;
  template: string;
}

type ErrorFactory = ((...args: (string | number)[]) => GatewayError) & ErrorDefinition;

function defineError(code: string, statusCode: number, template: string): ErrorFactory {
  const factory = (...args: (string | number)[]): GatewayError =>
    new GatewayError(code, statusCode, format(template, ...args));
  return Object.assign(factory, { code, statusCode, template });
}

export const Errors = {
  badParameter: defineError('DWG_BAD_PARAMETER', 400, 'query parameter "%s": %s'),
  badPathSegment: defineError('DWG_BAD_PATH_SEGMENT', 400, 'path segment "%s": %s'),
  methodNotAllowed: defineError('DWG_METHOD_NOT_ALLOWED', 405, '%s is not allowed on %s (allowed: %s)'),
  headersTooLarge: defineError(
    'DWG_HEADERS_TOO_LARGE',
    431,
    'the request header section, URL included, is over %s bytes (http.maxHeaderBytes)',
  ),
  badRequest: defineError('DWG_BAD_REQUEST', 400, 'the request cannot be parsed: %s'),
  unknownAttribute: defineError(
    'DWG_UNKNOWN_ATTRIBUTE',
    400,
    '"%s" is not a DICOM keyword or tag known to this gateway',
  ),
  badMatchValue: defineError('DWG_BAD_MATCH_VALUE', 400, '%s: "%s" %s'),
  badUid: defineError('DWG_BAD_UID', 400, '%s "%s" is not a valid UID: it %s'),
  notAcceptable: defineError(
    'DWG_NOT_ACCEPTABLE',
    406,
    'none of the requested media types can be served (asked: %s; available: %s)',
  ),
  notFound: defineError('DWG_NOT_FOUND', 404, '%s'),
  pacsUnreachable: defineError('DWG_PACS_UNREACHABLE', 502, '%s cannot be reached: %s'),
  pacsRejected: defineError('DWG_PACS_REJECTED', 502, '%s rejected the association: %s'),
  pacsAborted: defineError('DWG_PACS_ABORTED', 502, 'the association with %s was aborted: %s'),
  pacsFailed: defineError('DWG_PACS_FAILURE', 502, '%s answered with a failure: %s'),
  pacsNegotiation: defineError('DWG_PACS_NEGOTIATION', 502, '%s does not support what this request needs: %s'),
  pacsProtocol: defineError('DWG_PACS_PROTOCOL', 502, '%s broke the DICOM protocol: %s'),
  pacsBusy: defineError('DWG_PACS_BUSY', 503, 'all associations to %s are busy: %s'),
  pacsTimeout: defineError('DWG_PACS_TIMEOUT', 504, '%s did not answer in time: %s'),
  notReady: defineError('DWG_NOT_READY', 503, 'not ready: %s'),
  codecsBusy: defineError('DWG_CODECS_BUSY', 503, 'the image decoders are busy: %s'),
  unrenderable: defineError('DWG_UNRENDERABLE', 500, 'the image cannot be rendered: %s'),
  decodeFailed: defineError('DWG_DECODE_FAILED', 500, 'frame %s of instance %s could not be decoded: %s'),
  internal: defineError('DWG_INTERNAL', 500, 'internal error: %s'),
  unauthorized: defineError('DWG_UNAUTHORIZED', 401, '%s'),
  badSignature: defineError('DWG_BAD_SIGNATURE', 403, 'signed URL refused: %s'),
  badCapability: defineError('DWG_BAD_CAPABILITY', 403, 'capability refused: %s'),
  forbidden: defineError('DWG_FORBIDDEN', 403, '%s'),
  rateLimited: defineError(
    'DWG_RATE_LIMITED',
    429,
    '%s sent more than %s requests that need the PACS in %s s; retry after %s s',
  ),
  rangeNotSatisfiable: defineError(
    'DWG_RANGE_NOT_SATISFIABLE',
    416,
    'range "%s" cannot be served from %s bytes (one range: bytes=a-b, a-, or -n)',
  ),
  payloadTooLarge: defineError('DWG_PAYLOAD_TOO_LARGE', 413, 'the request body is too large: %s'),
  unsupportedMediaType: defineError(
    'DWG_UNSUPPORTED_MEDIA_TYPE',
    415,
    "the request body's media type is not accepted: %s",
  ),
} as const;

/** Every code the gateway answers with (its own test checks each against docs/conformance.md). */
export const ERROR_CODES: readonly string[] = Object.values(Errors).map((e) => e.code);

export type { ErrorFactory };

/** The same error with response headers (Retry-After, WWW-Authenticate, Allow, Content-Range…). */
export function withHeaders(err: GatewayError, headers: Record<string, string>): GatewayError {
  return new GatewayError(err.code, err.statusCode, err.message, err.details, { ...err.headers, ...headers });
}

export function withDetails(err: GatewayError, details: Record<string, unknown>): GatewayError {
  return new GatewayError(err.code, err.statusCode, err.message, { ...err.details, ...details }, err.headers);
}

/** Each kind of archive error as the HTTP error it is (docs/conformance.md §4.7): the one place it is decided. */
const ARCHIVE_ERRORS: Record<ArchiveErrorKind, (archive: string, message: string) => GatewayError> = {
  'not-found': (_archive, message) => Errors.notFound(message),
  unreachable: (archive, message) => Errors.pacsUnreachable(archive, message),
  refused: (archive, message) => Errors.pacsRejected(archive, message),
  aborted: (archive, message) => Errors.pacsAborted(archive, message),
  failed: (archive, message) => Errors.pacsFailed(archive, message),
  unsupported: (archive, message) => Errors.pacsNegotiation(archive, message),
  protocol: (archive, message) => Errors.pacsProtocol(archive, message),
  busy: (archive, message) => Errors.pacsBusy(archive, message),
  timeout: (archive, message) => Errors.pacsTimeout(archive, message),
  'not-ready': (archive, message) => Errors.notReady(`${archive}: ${message}`),
};

/** An archive's failure as the DICOMweb answer: its kind's status, its detail, Retry-After when it says when. */
export function fromArchiveError(err: ArchiveError): GatewayError {
  const mapped = withDetails(ARCHIVE_ERRORS[err.kind](err.archive ?? 'the archive', err.message), err.detail);
  return err.retryAfterSeconds === undefined
    ? mapped
    : withHeaders(mapped, { 'retry-after': String(err.retryAfterSeconds) });
}

/** Any error to a GatewayError; unknown errors become 500 without leaking internals beyond the message. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof ArchiveError) return fromArchiveError(err);
  if (err instanceof CodecPoolBusyError) return withHeaders(Errors.codecsBusy(err.message), { 'retry-after': '1' });
  return Errors.internal(err instanceof Error ? err.message : String(err));
}
