import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WadoService, WadoParts, ByteRange, FrameAcceptance } from '../services/wado-service.js';
import { instanceSyntaxes, frameOptions } from './wado-accept.js';
import { toNativeDicomXml } from '../dicom/xml-model.js';
import { Errors, withDetails, withHeaders } from '../errors.js';
import { parseAccept, describeRanges } from './accept.js';
import { frameNumbers, instanceScope, retrieveScope } from './path-params.js';
import { jsonArray } from './search-response.js';
import type { PublicUrl } from './public-url.js';
import { warnIgnoredParameters } from './ignored-parameters.js';
import type { RouteConfig } from './route-config.js';
import {
  streamResponse,
  multipartBody,
  newBoundary,
  pendingHeaders,
  sizedBody,
  sizedMultipartBody,
  writeChunk,
  type Part,
  type SizedBody,
} from './multipart-stream.js';

export interface WadoRouteOptions {
  service: WadoService;
  publicUrl: PublicUrl;
}

interface Params {
  study: string;
  series?: string;
  instance?: string;
  frames?: string;
  '*'?: string;
}

/** Streams a multipart answer of the WADO service (PS3.18 §8.7.1): parts as produced, what was left out in the trailer. */
async function sendParts(reply: FastifyReply, answer: WadoParts): Promise<void> {
  const boundary = newBoundary();
  const parts = (async function* (): AsyncGenerator<Part> {
    for await (const p of answer.parts) {
      yield {
        headers: { 'Content-Type': p.mediaType, ...(p.location ? { 'Content-Location': p.location } : {}) },
        body: p.body,
        ...(p.done ? { done: p.done } : {}),
      };
    }
  })();
  await sendSized(
    reply,
    `multipart/related; type="${answer.type}"; boundary=${boundary}`,
    await sizedMultipartBody(boundary, parts, SIZED_BYTES),
    answer.lateWarning,
    answer.recycle,
  );
}

/** Frames and other in-memory answers up to this size go out with Content-Length (viewers decode them sooner). */
const SIZED_BYTES = 8 * 2 ** 20;

/** What a frames request accepts, and what it asked for (406 messages). */
function frameAcceptance(request: FastifyRequest): FrameAcceptance {
  return { options: frameOptions(request.headers.accept), asked: describeRanges(parseAccept(request.headers.accept)) };
}

/**
 * GET {s}/studies/{study}[/series/{series}[/instances/{instance}]] — Retrieve Instances (PS3.18 §10.4.1).
 * Each instance in the first transfer syntax of the Accept header it can be had in (PS3.18 §8.7.3.5).
 */
async function retrieveInstances(
  options: WadoRouteOptions,
  request: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
): Promise<void> {
  const scope = retrieveScope(request.params);
  const syntaxes = instanceSyntaxes(request.headers.accept);
  await sendParts(reply, await options.service.instances(scope, syntaxes, options.publicUrl(request)));
}

/** GET {s}/studies/{study}[/series/{series}[/instances/{instance}]]/metadata (PS3.18 §10.4.1.1.2): JSON, or XML parts. */
async function retrieveMetadata(
  options: WadoRouteOptions,
  request: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
): Promise<void> {
  const scope = retrieveScope(request.params);
  const ranges = parseAccept(request.headers.accept);
  const wantsXml =
    ranges.length > 0 &&
    !ranges.some(
      (r) =>
        r.q > 0 &&
        ((r.type === 'application' && (r.subtype === 'dicom+json' || r.subtype === 'json' || r.subtype === '*')) ||
          (r.type === '*' && r.subtype === '*')),
    );
  if (
    wantsXml &&
    !ranges.some(
      (r) =>
        r.q > 0 &&
        r.type === 'multipart' &&
        r.subtype === 'related' &&
        (r.params.type ?? 'application/dicom+xml') === 'application/dicom+xml',
    )
  ) {
    throw Errors.notAcceptable(
      describeRanges(ranges),
      'application/dicom+json, multipart/related; type="application/dicom+xml"',
    );
  }
  const answer = await options.service.metadata(scope, options.publicUrl(request));
  if (wantsXml) {
    const boundary = newBoundary();
    const parts = (async function* (): AsyncGenerator<Part> {
      for await (const json of answer.objects)
        yield {
          headers: { 'Content-Type': 'application/dicom+xml; charset=utf-8' },
          body: Buffer.from(toNativeDicomXml(json)),
        };
    })();
    const contentType = `multipart/related; type="application/dicom+xml"; boundary=${boundary}`;
    if (!answer.local) {
      await streamResponse(
        reply,
        { contentType, warnings: [], lateWarning: answer.lateWarning },
        multipartBody(boundary, parts),
      );
      return;
    }
    await sendSized(reply, contentType, await sizedMultipartBody(boundary, parts, SIZED_BYTES), answer.lateWarning);
    return;
  }
  if (!answer.local) {
    // Cold: each instance's metadata goes out as the instance arrives (the first byte with the first instance).
    await streamResponse(
      reply,
      { contentType: 'application/dicom+json', warnings: [], lateWarning: answer.lateWarning },
      jsonArray(answer.objects),
    );
    return;
  }
  // Held here: read ahead, so that it goes out with Content-Length when it fits.
  await sendSized(
    reply,
    'application/dicom+json',
    await sizedBody(jsonArray(answer.objects), SIZED_BYTES),
    answer.lateWarning,
  );
}

/**
 * A body read ahead: with Content-Length when it was read whole — what was left out is known then, and goes in a
 * Warning header (no trailer without chunking) — else streamed, the late Warning as a trailer.
 */
async function sendSized(
  reply: FastifyReply,
  contentType: string,
  body: SizedBody,
  lateWarning: () => string | undefined,
  onWritten?: (chunk: Buffer) => void,
): Promise<void> {
  const late = body.length !== undefined ? lateWarning() : undefined;
  await streamResponse(
    reply,
    {
      contentType,
      warnings: late ? [late] : [],
      ...(body.length === undefined ? { lateWarning } : { contentLength: body.length }),
      ...(onWritten ? { onWritten } : {}),
    },
    body.chunks,
  );
}

/** A single byte range (RFC 9110 §14.1.2); undefined for no Range header; throws 416 for an unsatisfiable one. */
function byteRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = withHeaders(withDetails(Errors.rangeNotSatisfiable(header, size), { size }), {
    'content-range': `bytes */${size}`,
  });
  if (!m || (m[1] === '' && m[2] === '')) throw unsatisfiable;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) throw unsatisfiable;
  return { start, end };
}

/**
 * GET {s}/studies/{study}/series/{series}/instances/{instance}/bulkdata/{path} — the BulkDataURIs we hand out:
 * one octet-stream part, or the bare bytes (200, or 206 for a Range) when asked as application/octet-stream.
 */
async function retrieveBulkData(
  options: WadoRouteOptions,
  request: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
): Promise<void> {
  const path = request.params['*'] ?? '';
  if (!/^[0-9A-Fa-f]{8}(\/\d+\/[0-9A-Fa-f]{8})*$/.test(path))
    throw Errors.badPathSegment('bulkdata', `"${path}" is not a tag path like 7FE00010 or 00540016/0/00181072`);
  const scope = instanceScope(request.params);
  const { size, range, body } = await options.service.bulkData(scope, path, (n) => byteRange(request.headers.range, n));
  if (
    range ||
    parseAccept(request.headers.accept).some((r) => r.type === 'application' && r.subtype === 'octet-stream')
  ) {
    const headers = pendingHeaders(reply);
    reply.hijack();
    reply.raw.writeHead(range ? 206 : 200, {
      ...headers,
      'content-type': 'application/octet-stream',
      'content-length': String(range ? range.end - range.start + 1 : size),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${size}` } : {}),
    });
    try {
      for await (const chunk of body) await writeChunk(reply.raw, chunk);
      reply.raw.end();
    } catch (err) {
      // After the headers: cut the response (the client sees it incomplete), never end it short.
      reply.log.error({ err }, 'response failed after it started; connection cut');
      reply.raw.destroy();
    } finally {
      await body.return?.(undefined);
    }
    return;
  }
  await sendParts(reply, {
    type: 'application/octet-stream',
    parts: (async function* () {
      yield { mediaType: 'application/octet-stream', body };
    })(),
    lateWarning: () => undefined,
  });
}

/** GET .../instances/{instance}/frames/{list} and .../instances/{instance}/pixeldata (PS3.18 §10.4.1.1.4–5). */
async function retrieveFrames(
  options: WadoRouteOptions,
  request: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
  allFrames: boolean,
): Promise<void> {
  const numbers = allFrames ? undefined : frameNumbers(request.params.frames ?? '');
  const accepted = frameAcceptance(request);
  await sendParts(
    reply,
    await options.service.frames(instanceScope(request.params), numbers, accepted, options.publicUrl(request)),
  );
}

/** GET {s}/studies/{study}[/series/{series}]/pixeldata (PS3.18 §10.4.1.1.5): every frame of every instance with pixel data. */
async function retrieveScopePixelData(
  options: WadoRouteOptions,
  request: FastifyRequest<{ Params: Params }>,
  reply: FastifyReply,
): Promise<void> {
  const accepted = frameAcceptance(request);
  await sendParts(
    reply,
    await options.service.scopePixelData(retrieveScope(request.params), accepted, options.publicUrl(request)),
  );
}

/**
 * Every WADO-RS resource retrieves from the PACS unless the cache holds its scope (rate-limit.ts); none takes
 * query parameters (media types come from Accept), so any it gets is reported as ignored.
 */
const RETRIEVAL = {
  config: { action: 'read', auditEvent: 'transferred', pacsCost: 'retrieve' } satisfies RouteConfig,
  preHandler: warnIgnoredParameters(new Set()),
};
/** Metadata is viewing, not a transfer of instances (PS3.15 A.5: DICOM Instances Accessed). */
const METADATA = { ...RETRIEVAL, config: { ...RETRIEVAL.config, auditEvent: 'accessed' } satisfies RouteConfig };

/** WADO-RS (PS3.18 §10.4). */
export function registerWadoRoutes(app: FastifyInstance, options: WadoRouteOptions): void {
  const levels = [
    '/studies/:study',
    '/studies/:study/series/:series',
    '/studies/:study/series/:series/instances/:instance',
  ];
  for (const path of levels) {
    app.get<{ Params: Params }>(path, RETRIEVAL, (request, reply) => retrieveInstances(options, request, reply));
    app.get<{ Params: Params }>(`${path}/metadata`, METADATA, (request, reply) =>
      retrieveMetadata(options, request, reply),
    );
  }
  const instance = '/studies/:study/series/:series/instances/:instance';
  app.get<{ Params: Params }>(`${instance}/bulkdata/*`, RETRIEVAL, (request, reply) =>
    retrieveBulkData(options, request, reply),
  );
  app.get<{ Params: Params }>(`${instance}/frames/:frames`, RETRIEVAL, (request, reply) =>
    retrieveFrames(options, request, reply, false),
  );
  app.get<{ Params: Params }>(`${instance}/pixeldata`, RETRIEVAL, (request, reply) =>
    retrieveFrames(options, request, reply, true),
  );
  for (const scope of ['/studies/:study', '/studies/:study/series/:series']) {
    app.get<{ Params: Params }>(`${scope}/pixeldata`, RETRIEVAL, (request, reply) =>
      retrieveScopePixelData(options, request, reply),
    );
  }
}
