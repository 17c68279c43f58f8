import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Archive, RetrieveScope, HeldInstance, InstanceStream } from '../archive/archive.js';
import { locateFrames, requireFrames, FrameError, FRAME_MEDIA_TYPE, type FrameLocator } from '../services/frames.js';
import { planFrames, type FrameOption, type FramePlan } from '../services/frame-delivery.js';
import { conversionProblem, transcodedPart10 } from '../services/transcode.js';
import { pixelFormatOf, PixelFormatError } from '../codecs/pixel-format.js';
import { CONVERSION_TARGETS, LOSSLESS_ENCODERS } from '../codecs/transfer-syntaxes.js';
import type { CodecPool } from '../codecs/codec-pool.js';
import { instanceSyntaxes, frameOptions } from './wado-accept.js';
import { readPart10Header, bulkStream, type StoredHeader } from '../dicom/part10-reader.js';
import { toDicomJson, type DicomJsonObject } from '../dicom/json-model.js';
import { wordSizeOf } from '../dicom/dataset-codec.js';
import { toNativeDicomXml } from '../dicom/xml-model.js';
import { parseHexTag, Tags, tag, type Tag } from '../dicom/tag.js';
import type { DataElement, Dataset } from '../dicom/dataset.js';
import { Errors, withDetails, withHeaders, type GatewayError } from '../errors.js';
import { parseAccept, describeRanges } from './accept.js';
import { frameNumbers, retrieveScope } from './path-params.js';
import { jsonArray } from './search-response.js';
import type { PublicUrl } from './public-url.js';
import { fileBody, type ReadBuffers } from './file-body.js';
import { warnIgnoredParameters } from './ignored-parameters.js';
import type { RouteConfig } from './route-config.js';
import { streamResponse, multipartBody, newBoundary, pendingHeaders, prepend, readAhead, type Part } from './multipart-stream.js';

export interface WadoRouteOptions {
  archive: Archive;
  publicUrl: PublicUrl;
  /** Binary values longer than this become BulkDataURIs in metadata (Pixel Data always does). */
  bulkDataThreshold: number;
  /** Read buffers shared by every response that streams stored files. */
  readBuffers: ReadBuffers;
  /** Decoding and encoding of frames, in worker threads. */
  codecs: CodecPool;
}

interface Params {
  study: string;
  series?: string;
  instance?: string;
  frames?: string;
  '*'?: string;
}

const PIXEL_TAGS: ReadonlySet<Tag> = new Set([Tags.PixelData, tag(0x7fe0, 0x0008), tag(0x7fe0, 0x0009)]);


const instanceUrl = (base: string, i: HeldInstance['instance']): string =>
  `${base}/studies/${i.studyInstanceUid}/series/${i.seriesInstanceUid}/instances/${i.sopInstanceUid}`;

/** Opens the scope and waits for its first instance, so the status is known before any byte (PS3.18 §10.4.3). */
async function firstAndRest(archive: Archive, scope: RetrieveScope): Promise<{ stream: InstanceStream; first: HeldInstance; rest: AsyncIterator<HeldInstance> }> {
  const stream = await archive.open(scope);
  const rest = stream[Symbol.asyncIterator]();
  const first = await rest.next();
  if (first.done) throw Errors.pacsFailed(`the PACS listed the instances but sent none of them (${stream.missing} missing)`);
  return { stream, first: first.value, rest };
}

function lateWarning(stream: InstanceStream): () => string | undefined {
  return () => (stream.missing > 0 ? `${stream.missing} instance(s) of the request could not be retrieved from the PACS${stream.failedSubOperations ? ` (${stream.failedSubOperations} failed sub-operations)` : ''}` : undefined);
}

/** Parts prepared ahead of the one being written, each reading its first chunk (≤ 1 MiB) meanwhile. */
const READ_AHEAD = 4;

async function* mapIterator<T, U>(it: AsyncIterable<T>, fn: (t: T) => U | Promise<U>): AsyncGenerator<U> {
  for await (const t of it) yield await fn(t);
}

/** Wraps an iterator so that each held instance is released even if the consumer stops early. */
function iterable<T>(it: AsyncIterator<T>): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => it };
}

// ---------------------------------------------------------------------------------------------------------
// Media types

// ---------------------------------------------------------------------------------------------------------
// Handlers

/**
 * The part for one instance in the first acceptable transfer syntax it can be had in: as stored, or converted
 * (transcode.ts). Undefined when none is possible.
 */
function instancePart(options: WadoRouteOptions, base: string, held: HeldInstance, syntaxes: readonly string[]): { part: Part; problem?: undefined } | { part?: undefined; problem: string } {
  const stored = held.instance.transferSyntaxUid;
  let header: StoredHeader | undefined;
  const problems: string[] = [];
  for (const wanted of syntaxes) {
    if (wanted === '*' || wanted === stored) {
      const body = fileBody(options.readBuffers, held.instance.path, 0, held.instance.bytes);
      return { part: { headers: { 'Content-Type': `application/dicom; transfer-syntax=${stored}`, 'Content-Location': instanceUrl(base, held.instance) }, body, done: () => { body.dispose(); held.release(); } } };
    }
    header ??= readPart10Header(held.instance.path, 64 * 1024);
    const problem = conversionProblem(header, wanted);
    if (problem) { problems.push(problem); continue; }
    return { part: { headers: { 'Content-Type': `application/dicom; transfer-syntax=${wanted}`, 'Content-Location': instanceUrl(base, held.instance) }, body: transcodedPart10(header, wanted, options.codecs), done: held.release } };
  }
  held.release();
  return { problem: `instance ${held.instance.sopInstanceUid} is stored as ${stored}: ${problems.join('; ')}` };
}

/**
 * GET {s}/studies/{study}[/series/{series}[/instances/{instance}]] — Retrieve Instances (PS3.18 §10.4.1).
 * Each instance goes in the first transfer syntax of the Accept header it can be had in (PS3.18 §8.7.3.5); when
 * the first instance cannot be had in any, 406; a later one that cannot is left out and counted in the trailer.
 */
async function retrieveInstances(options: WadoRouteOptions, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<void> {
  const scope = retrieveScope(request.params);
  const syntaxes = instanceSyntaxes(request.headers.accept);
  const base = options.publicUrl(request);
  const { stream, first, rest } = await firstAndRest(options.archive, scope);
  const firstPart = instancePart(options, base, first, syntaxes);
  if (!firstPart.part) {
    await rest.return?.();
    throw Errors.notAcceptable(`transfer-syntax ${syntaxes.join(', ')}`, `${firstPart.problem}; transfer-syntax=* serves every instance as stored, or one of ${[...CONVERSION_TARGETS].join(', ')}`);
  }
  let omitted = 0;
  const others = (async function* (): AsyncGenerator<Part> {
    for await (const held of iterable(rest)) {
      const r = instancePart(options, base, held, syntaxes);
      if (r.part) yield r.part;
      else {
        omitted++;
        request.log.warn({ reason: r.problem }, 'instance left out: not available in an acceptable transfer syntax');
      }
    }
  })();
  const late = lateWarning(stream);
  const boundary = newBoundary();
  await streamResponse(reply, {
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
    warnings: [],
    lateWarning: () => [late(), omitted ? `${omitted} instance(s) left out: not available in the requested transfer syntax` : undefined].filter(Boolean).join('; ') || undefined,
    onWritten: (chunk) => options.readBuffers.release(chunk),
  }, multipartBody(boundary, readAhead(prepend(firstPart.part, others[Symbol.asyncIterator]()), READ_AHEAD, (part) => part.done?.())));
}

/** Reads a held instance's header and makes its DICOM JSON with BulkDataURIs (PS3.18 §10.4.1.2.2, Annex F). */
function metadataOf(options: WadoRouteOptions, base: string, held: HeldInstance): DicomJsonObject {
  try {
    const header = readPart10Header(held.instance.path, options.bulkDataThreshold);
    const url = instanceUrl(base, held.instance);
    return toDicomJson(header.dataset, { inlineBinaryMaxBytes: options.bulkDataThreshold, bulkDataUri: (path) => `${url}/bulkdata/${path}`, alwaysBulk: PIXEL_TAGS });
  } finally {
    held.release();
  }
}

/** GET {s}/studies/{study}[/series/{series}[/instances/{instance}]]/metadata (PS3.18 §10.4.1.1.2). */
async function retrieveMetadata(options: WadoRouteOptions, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<void> {
  const scope = retrieveScope(request.params);
  const ranges = parseAccept(request.headers.accept);
  const wantsXml = ranges.length > 0 && !ranges.some((r) => r.q > 0 && ((r.type === 'application' && (r.subtype === 'dicom+json' || r.subtype === 'json' || r.subtype === '*')) || (r.type === '*' && r.subtype === '*')));
  if (wantsXml && !ranges.some((r) => r.q > 0 && r.type === 'multipart' && r.subtype === 'related' && (r.params.type ?? 'application/dicom+xml') === 'application/dicom+xml')) {
    throw Errors.notAcceptable(describeRanges(ranges), 'application/dicom+json, multipart/related; type="application/dicom+xml"');
  }
  const base = options.publicUrl(request);
  const { stream, first, rest } = await firstAndRest(options.archive, scope);
  const firstJson = metadataOf(options, base, first);
  const others = mapIterator(iterable(rest), (held) => metadataOf(options, base, held));
  if (wantsXml) {
    const boundary = newBoundary();
    const parts = mapIterator(prepend(firstJson, others[Symbol.asyncIterator]()), (json): Part => ({ headers: { 'Content-Type': 'application/dicom+xml; charset=utf-8' }, body: Buffer.from(toNativeDicomXml(json)) }));
    await streamResponse(reply, { contentType: `multipart/related; type="application/dicom+xml"; boundary=${boundary}`, warnings: [], lateWarning: lateWarning(stream) }, multipartBody(boundary, parts));
    return;
  }
  await streamResponse(reply, { contentType: 'application/dicom+json', warnings: [], lateWarning: lateWarning(stream) }, jsonArray(prepend(firstJson, others[Symbol.asyncIterator]())));
}

/** Opens the one instance of an instance-level request and parses its header; the pin lasts while `use` runs. */
async function withInstance<T>(options: WadoRouteOptions, params: Params, use: (header: StoredHeader, held: HeldInstance) => Promise<T>): Promise<T> {
  const { first, rest } = await firstAndRest(options.archive, retrieveScope(params));
  await rest.return?.();
  try {
    return await use(readPart10Header(first.instance.path, options.bulkDataThreshold), first);
  } finally {
    first.release();
  }
}

/** Finds the element a bulk data path names ("7FE00010", "00540016/0/00181072"). */
function elementAt(ds: Dataset, path: string): DataElement | undefined {
  const parts = path.split('/');
  let current: Dataset | undefined = ds;
  for (let i = 0; i < parts.length; i++) {
    const t = parseHexTag(parts[i] ?? '');
    if (t === undefined || !current) return undefined;
    const el = current.get(t);
    if (i === parts.length - 1) return el;
    if (!el || el.vr !== 'SQ') return undefined;
    current = el.items[Number(parts[++i])];
  }
  return undefined;
}

/** A single byte range (RFC 9110 §14.1.2); undefined for no Range header; throws 416 for an unsatisfiable one. */
function byteRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = withHeaders(withDetails(Errors.rangeNotSatisfiable(header, size), { size }), { 'content-range': `bytes */${size}` });
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

/** GET {s}/studies/{study}/series/{series}/instances/{instance}/bulkdata/{path} — the BulkDataURIs we hand out. */
async function retrieveBulkData(options: WadoRouteOptions, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<void> {
  const path = request.params['*'] ?? '';
  if (!/^[0-9A-Fa-f]{8}(\/\d+\/[0-9A-Fa-f]{8})*$/.test(path)) throw Errors.badPathSegment('bulkdata', `"${path}" is not a tag path like 7FE00010 or 00540016/0/00181072`);
  await withInstance(options, request.params, async (header) => {
    const el = elementAt(header.dataset, path);
    if (!el || el.vr === 'SQ') throw Errors.notFound(`the instance has no binary attribute at ${path}`);
    const whole = 'bulk' in el
      ? (el.bulk.fragments ? el.bulk.fragments.slice(1) : [{ offset: el.bulk.offset, length: el.bulk.length }])
      : undefined;
    const size = whole ? whole.reduce((a, f) => a + f.length, 0) : 'bytes' in el ? el.bytes.length : 0;
    const wordSize = 'bulk' in el && !el.bulk.fragments ? wordSizeOf(el.vr) : 1;
    const range = byteRange(request.headers.range, size);
    const body = async function* (): AsyncGenerator<Buffer> {
      if (!whole) {
        const bytes = 'bytes' in el ? el.bytes : Buffer.alloc(0);
        yield range ? bytes.subarray(range.start, range.end + 1) : bytes;
        return;
      }
      let skip = range?.start ?? 0;
      let left = range ? range.end - range.start + 1 : size;
      for (const f of whole) {
        if (left <= 0) break;
        if (skip >= f.length) { skip -= f.length; continue; }
        const take = Math.min(f.length - skip, left);
        yield* bulkStream(header, f, { start: skip, end: skip + take - 1 }, wordSize);
        left -= take;
        skip = 0;
      }
    };
    if (range || parseAccept(request.headers.accept).some((r) => r.type === 'application' && r.subtype === 'octet-stream')) {
      const headers = pendingHeaders(reply);
      reply.hijack();
      reply.raw.writeHead(range ? 206 : 200, {
        ...headers,
        'content-type': 'application/octet-stream',
        'content-length': String(range ? range.end - range.start + 1 : size),
        'accept-ranges': 'bytes',
        ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${size}` } : {}),
      });
      for await (const chunk of body()) if (!reply.raw.write(chunk)) await new Promise((r) => reply.raw.once('drain', r));
      reply.raw.end();
      return;
    }
    const boundary = newBoundary();
    const part: Part = { headers: { 'Content-Type': 'application/octet-stream' }, body: body() };
    await streamResponse(reply, { contentType: `multipart/related; type="application/octet-stream"; boundary=${boundary}`, warnings: [] }, multipartBody(boundary, (async function* () { yield part; })()));
  });
}


/** Frames produced ahead of the one being written (decoding runs in the codec workers meanwhile). */
const FRAMES_AHEAD = 4;

/** An instance's frames located, and how they will be sent (or why they cannot be). */
type PixelSource =
  | { ok: true; locator: FrameLocator; plan: FramePlan }
  | { ok: false; status: 404 | 406 | 500; message: string };

function pixelSource(header: StoredHeader, accepted: FrameOption[], codecs: CodecPool): PixelSource {
  let locator: FrameLocator;
  let format;
  try {
    locator = locateFrames(header);
    format = pixelFormatOf(header.dataset);
  } catch (err) {
    if (err instanceof FrameError) return { ok: false, status: err.kind === 'no-pixels' ? 404 : 500, message: err.message };
    if (err instanceof PixelFormatError) return { ok: false, status: 500, message: err.message };
    throw err;
  }
  const plan = planFrames(locator, format, accepted, codecs);
  if (!plan) return { ok: false, status: 406, message: `frames stored as ${locator.transferSyntaxUid}` };
  return { ok: true, locator, plan };
}

const notAcceptableFrames = (request: FastifyRequest, why: string): GatewayError => Errors.notAcceptable(`${describeRanges(parseAccept(request.headers.accept))} (${why})`, `multipart/related; type="application/octet-stream"[; transfer-syntax=*], or an image type of ${Object.keys(LOSSLESS_ENCODERS).map((ts) => FRAME_MEDIA_TYPE[ts]).filter((v, i, a) => a.indexOf(v) === i).join(', ')}`);

/** One part per frame of one instance, each produced a few frames ahead (decoded or re-encoded meanwhile). */
function* frameParts(source: Extract<PixelSource, { ok: true }>, numbers: number[], url: string): Generator<Part> {
  for (const n of numbers) {
    const frame = source.plan.produce(n);
    frame.catch(() => {});
    yield { headers: { 'Content-Type': `${source.plan.mediaType}; transfer-syntax=${source.plan.transferSyntaxUid}`, 'Content-Location': `${url}/${n}` }, body: (async function* () { const f = await frame; yield Buffer.from(f.buffer, f.byteOffset, f.byteLength); })() };
  }
}

/**
 * GET .../instances/{instance}/frames/{list} and .../instances/{instance}/pixeldata (PS3.18 §10.4.1.1.4–5).
 * The first representation of the Accept header the gateway can make: the stored bitstream, native samples
 * (decoded in the codec workers when stored compressed), or a lossless re-encoding (frame-delivery.ts).
 */
async function retrieveFrames(options: WadoRouteOptions, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, allFrames: boolean): Promise<void> {
  const wanted = allFrames ? undefined : frameNumbers(request.params.frames ?? '');
  const accepted = frameOptions(request.headers.accept);
  const base = options.publicUrl(request);
  await withInstance(options, request.params, async (header, held) => {
    const source = pixelSource(header, accepted, options.codecs);
    if (!source.ok) throw source.status === 404 ? Errors.notFound(source.message) : source.status === 406 ? notAcceptableFrames(request, source.message) : Errors.internal(source.message);
    const total = source.locator.numberOfFrames;
    const numbers = wanted ?? Array.from({ length: total }, (_, i) => i + 1);
    requireFrames(numbers, total);
    const parts = readAhead((async function* () { yield* frameParts(source, numbers, `${instanceUrl(base, held.instance)}/frames`); })(), FRAMES_AHEAD);
    const boundary = newBoundary();
    await streamResponse(reply, { contentType: `multipart/related; type="${source.plan.mediaType}"; boundary=${boundary}`, warnings: [] }, multipartBody(boundary, parts));
  });
}

/**
 * GET {s}/studies/{study}[/series/{series}]/pixeldata (PS3.18 §10.4.1.1.5): every frame of every instance with
 * pixel data, instance by instance as they arrive. Instances without pixel data, or that cannot be had in an
 * acceptable representation, are left out and counted in the trailer; none at all → 404 (or 406).
 */
async function retrieveScopePixelData(options: WadoRouteOptions, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<void> {
  const accepted = frameOptions(request.headers.accept);
  const base = options.publicUrl(request);
  const stream = await options.archive.open(retrieveScope(request.params));
  const instances = stream[Symbol.asyncIterator]();
  let skipped = 0;
  let refused: string | undefined;
  /** The next instance whose frames can be sent, with its source; the others are released and counted. */
  const nextUsable = async (): Promise<{ held: HeldInstance; source: Extract<PixelSource, { ok: true }> } | undefined> => {
    for (;;) {
      const r = await instances.next();
      if (r.done) return undefined;
      const held = r.value;
      const source = pixelSource(readPart10Header(held.instance.path, options.bulkDataThreshold), accepted, options.codecs);
      if (source.ok) return { held, source };
      if (source.status === 406) refused ??= source.message;
      skipped++;
      held.release();
    }
  };
  const first = await nextUsable();
  if (!first) {
    await instances.return?.(undefined);
    throw refused ? notAcceptableFrames(request, refused) : Errors.notFound('no instance of the request has pixel data');
  }
  const parts = (async function* (): AsyncGenerator<Part> {
    let current: typeof first | undefined = first;
    try {
      while (current) {
        const { held, source } = current;
        try {
          const numbers = Array.from({ length: source.locator.numberOfFrames }, (_, i) => i + 1);
          yield* readAhead((async function* () { yield* frameParts(source, numbers, `${instanceUrl(base, held.instance)}/frames`); })(), FRAMES_AHEAD);
        } finally {
          held.release();
        }
        current = await nextUsable();
      }
    } finally {
      await instances.return?.(undefined);
    }
  })();
  const late = lateWarning(stream);
  const boundary = newBoundary();
  await streamResponse(reply, {
    contentType: `multipart/related; type="${first.source.plan.mediaType}"; boundary=${boundary}`,
    warnings: [],
    lateWarning: () => [late(), skipped ? `${skipped} instance(s) left out: no pixel data, or none in an acceptable representation` : undefined].filter(Boolean).join('; ') || undefined,
  }, multipartBody(boundary, parts));
}

/**
 * Every WADO-RS resource retrieves from the PACS unless the cache holds its scope (rate-limit.ts); none takes
 * query parameters (media types come from Accept), so any it gets is reported as ignored.
 */
const RETRIEVAL = { config: { action: 'read', auditEvent: 'transferred', pacsCost: 'retrieve' } satisfies RouteConfig, preHandler: warnIgnoredParameters(new Set()) };
/** Metadata is viewing, not a transfer of instances (PS3.15 A.5: DICOM Instances Accessed). */
const METADATA = { ...RETRIEVAL, config: { ...RETRIEVAL.config, auditEvent: 'accessed' } satisfies RouteConfig };

/** WADO-RS (PS3.18 §10.4). */
export function registerWadoRoutes(app: FastifyInstance, options: WadoRouteOptions): void {
  const levels = ['/studies/:study', '/studies/:study/series/:series', '/studies/:study/series/:series/instances/:instance'];
  for (const path of levels) {
    app.get<{ Params: Params }>(path, RETRIEVAL, (request, reply) => retrieveInstances(options, request, reply));
    app.get<{ Params: Params }>(`${path}/metadata`, METADATA, (request, reply) => retrieveMetadata(options, request, reply));
  }
  const instance = '/studies/:study/series/:series/instances/:instance';
  app.get<{ Params: Params }>(`${instance}/bulkdata/*`, RETRIEVAL, (request, reply) => retrieveBulkData(options, request, reply));
  app.get<{ Params: Params }>(`${instance}/frames/:frames`, RETRIEVAL, (request, reply) => retrieveFrames(options, request, reply, false));
  app.get<{ Params: Params }>(`${instance}/pixeldata`, RETRIEVAL, (request, reply) => retrieveFrames(options, request, reply, true));
  for (const scope of ['/studies/:study', '/studies/:study/series/:series']) {
    app.get<{ Params: Params }>(`${scope}/pixeldata`, RETRIEVAL, (request, reply) => retrieveScopePixelData(options, request, reply));
  }
}
