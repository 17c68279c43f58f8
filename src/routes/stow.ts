import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import type { StowService, StowPart } from '../services/stow-service.js';
import { Errors } from '../errors.js';
import { describeRanges, negotiate, parseAccept, simpleOffer } from './accept.js';
import { toNativeDicomXml } from '../dicom/xml-model.js';
import { multipartParts } from './multipart-parse.js';
import { addWarnings } from './multipart-stream.js';
import { pathUid } from './qido-params.js';
import type { PublicUrl } from './public-url.js';
import type { RouteConfig } from './route-config.js';
import '../audit/audit-hook.js';

export interface StowRouteOptions {
  service: StowService;
  publicUrl: PublicUrl;
  maxBytes: number;
}

const ACCEPTED_BODY_TYPES =
  'multipart/related; type="application/dicom" or type="application/dicom+json", with a boundary';

/**
 * The boundary and `type` of a `multipart/related` request (PS3.18 §10.5.1.1): 415 naming the type received and
 * the types taken, or 400 when a multipart/related body has no boundary to be read by.
 */
function bodyTypeOf(contentType: string | undefined): {
  boundary: string;
  type: 'application/dicom' | 'application/dicom+json';
} {
  const [range] = parseAccept(contentType ?? '');
  const type = range?.params.type ?? 'application/dicom';
  const ok =
    range &&
    range.type === 'multipart' &&
    range.subtype === 'related' &&
    (type === 'application/dicom' || type === 'application/dicom+json');
  if (!ok)
    throw Errors.unsupportedMediaType(
      `received ${contentType ? `"${contentType}"` : 'no Content-Type'}; STOW-RS takes ${ACCEPTED_BODY_TYPES}`,
    );
  const boundary = range.params.boundary;
  if (!boundary)
    throw Errors.badRequest(
      `the multipart/related Content-Type has no boundary parameter (RFC 2046 §5.1.1), so its parts cannot be found`,
    );
  return { boundary, type: type as 'application/dicom' | 'application/dicom+json' };
}

/** The request body as it arrives, cut off with 413 beyond `maxBytes`. */
async function* bounded(body: IncomingMessage, maxBytes: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw Errors.payloadTooLarge(`over stow.maxBytes (${maxBytes} bytes)`);
    yield chunk;
  }
}

/** The Store Instances Response's media type (PS3.18 §10.5.3): DICOM JSON by default, or XML (PS3.19 Native). */
const RESPONSE_OFFERS = [
  simpleOffer<'json' | 'xml'>('json', 'application/dicom+json', ['application/json']),
  simpleOffer<'json' | 'xml'>('xml', 'application/dicom+xml', ['application/xml']),
];

function responseFormat(accept: string | undefined): 'json' | 'xml' {
  const ranges = parseAccept(accept);
  const format = negotiate(ranges, RESPONSE_OFFERS);
  if (!format) throw Errors.notAcceptable(describeRanges(ranges), 'application/dicom+json, application/dicom+xml');
  return format;
}

const STORE: { config: RouteConfig } = { config: { action: 'write', auditEvent: 'stored' } };

/**
 * POST {s}/studies[/{study}] — Store Instances (PS3.18 §10.5): the parts are read as they arrive and each stored
 * into the archive; the Store Instances Response says what was stored and what failed. Registered only where the
 * archive takes instances (elsewhere POST is 405).
 */
export function registerStowRoutes(parent: FastifyInstance, options: StowRouteOptions): void {
  if (options.service.accepts) void parent.register(async (app) => registerStoring(app, options));
}

function registerStoring(app: FastifyInstance, options: StowRouteOptions): void {
  // Every body, whatever it claims to be, is left to the route as a stream: never held whole, and never parsed by
  // Fastify first (a body sent as application/json that is not JSON is a 415 here, not a 400).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  const handle = async (
    request: FastifyRequest<{ Params: { study?: string } }>,
    reply: import('fastify').FastifyReply,
  ): Promise<unknown> => {
    const study = request.params.study !== undefined ? pathUid('StudyInstanceUID', request.params.study) : undefined;
    const { boundary, type } = bodyTypeOf(request.headers['content-type']);
    const format = responseFormat(request.headers.accept);
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > options.maxBytes)
      throw Errors.payloadTooLarge(`${declared} bytes is over stow.maxBytes (${options.maxBytes} bytes)`);
    const parts = (async function* (): AsyncGenerator<StowPart> {
      for await (const part of multipartParts(bounded(request.raw, options.maxBytes), boundary)) {
        const location = part.headers['content-location'];
        yield {
          mediaType:
            part.headers['content-type'] ??
            (type === 'application/dicom+json' ? 'application/octet-stream' : 'application/dicom'),
          body: part.body,
          ...(location ? { location } : {}),
        };
      }
    })();
    const answer = await options.service.store(parts, study, options.publicUrl(request), type);
    request.auditInstances = answer.stored;
    if (answer.reasons.length) {
      // The reason of each part that failed or warned, for the uploader and for the operator it calls.
      request.log.warn(
        { stored: answer.stored.length, reasons: answer.reasons },
        'STOW-RS parts failed or stored with warnings',
      );
      addWarnings(reply, answer.reasons);
    }
    if (format === 'xml')
      return reply
        .status(answer.status)
        .type('application/dicom+xml; charset=utf-8')
        .send(toNativeDicomXml(answer.response));
    return reply.status(answer.status).type('application/dicom+json').send(answer.response);
  };
  app.post<{ Params: { study?: string } }>('/studies', STORE, handle);
  app.post<{ Params: { study?: string } }>('/studies/:study', STORE, handle);
}
