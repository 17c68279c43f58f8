import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RetrieveService, RetrieveScope, HeldInstance, InstanceStream } from '../services/retrieve-service.js';
import { locateFrames, FrameError, FRAME_MEDIA_TYPE } from '../services/frames.js';
import { readPart10Header, bulkStream, type StoredHeader } from '../dicom/part10-reader.js';
import { toDicomJson, type DicomJsonObject } from '../dicom/json-model.js';
import { toNativeDicomXml } from '../dicom/xml-model.js';
import { parseHexTag, Tags, tag, type Tag } from '../dicom/tag.js';
import type { DataElement, Dataset } from '../dicom/dataset.js';
import { Errors, GatewayError } from '../errors.js';
import { parseAccept, describeRanges, type MediaRange } from './accept.js';
import { pathUid } from './qido-params.js';
import { jsonArray } from './search-response.js';
import type { PublicUrl } from './public-url.js';
import { fileBody, type ReadBuffers } from './file-body.js';
import { streamResponse, multipartBody, newBoundary, prepend, readAhead, type Part } from './multipart-stream.js';

export interface WadoRouteOptions {
  service: RetrieveService;
  publicUrl: PublicUrl;
  /** Binary values longer than this become BulkDataURIs in metadata (Pixel Data always does). */
  bulkDataThreshold: number;
  /** Read buffers shared by every response that streams stored files. */
  readBuffers: ReadBuffers;
}

interface Params {
  study: string;
  series?: string;
  instance?: string;
  frames?: string;
  '*'?: string;
}

const PIXEL_TAGS: ReadonlySet<Tag> = new Set([Tags.PixelData, tag(0x7fe0, 0x0008), tag(0x7fe0, 0x0009)]);

function scopeOf(params: Params): RetrieveScope {
  return {
    study: pathUid('StudyInstanceUID', params.study),
    ...(params.series !== undefined ? { series: pathUid('SeriesInstanceUID', params.series) } : {}),
    ...(params.instance !== undefined ? { instance: pathUid('SOPInstanceUID', params.instance) } : {}),
  };
}

const instanceUrl = (base: string, i: HeldInstance['instance']): string =>
  `${base}/studies/${i.studyInstanceUid}/series/${i.seriesInstanceUid}/instances/${i.sopInstanceUid}`;

/** Opens the scope and waits for its first instance, so the status is known before any byte (PS3.18 §10.4.3). */
async function firstAndRest(service: RetrieveService, scope: RetrieveScope): Promise<{ stream: InstanceStream; first: HeldInstance; rest: AsyncIterator<HeldInstance> }> {
  const stream = await service.open(scope);
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

/** `multipart/related; type="application/dicom"` with its transfer-syntax (PS3.18 §8.7.3.5): undefined = none asked. */
function dicomTransferSyntax(request: FastifyRequest): { transferSyntax: string | undefined } {
  const ranges = parseAccept(request.headers.accept);
  if (ranges.length === 0) return { transferSyntax: undefined };
  const ok = ranges.filter((r) => r.q > 0 && acceptsDicom(r)).sort((a, b) => b.q - a.q || a.index - b.index);
  const best = ok[0];
  if (!best) throw Errors.notAcceptable(describeRanges(ranges), 'multipart/related; type="application/dicom"[; transfer-syntax=*]');
  return { transferSyntax: best.params['transfer-syntax'] };
}

function acceptsDicom(r: MediaRange): boolean {
  if (r.type === '*' && r.subtype === '*') return true;
  if (r.type === 'multipart' && (r.subtype === 'related' || r.subtype === '*')) return r.params.type === undefined || r.params.type === 'application/dicom';
  return r.type === 'application' && r.subtype === 'dicom';
}

/** What a frames/bulk request accepts: native octet-stream, the stored bitstream (`*`), or named image types. */
interface PixelAccept { storedBitstream: boolean; mediaTypes: Set<string>; native: boolean }
function pixelAccept(request: FastifyRequest): PixelAccept {
  const ranges = parseAccept(request.headers.accept).filter((r) => r.q > 0);
  if (ranges.length === 0) return { storedBitstream: false, mediaTypes: new Set(), native: true };
  const result: PixelAccept = { storedBitstream: false, mediaTypes: new Set(), native: false };
  for (const r of ranges) {
    const inner = r.type === 'multipart' ? r.params.type ?? 'application/octet-stream' : `${r.type}/${r.subtype}`;
    const ts = r.params['transfer-syntax'];
    if (inner === '*/*' || inner === 'application/octet-stream') {
      if (ts === '*') result.storedBitstream = true;
      else result.native = true;
      if (inner === '*/*') result.storedBitstream = true;
    } else {
      result.mediaTypes.add(inner);
      if (ts === '*') result.storedBitstream = true;
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Handlers

/** GET {s}/studies/{study}[/series/{series}[/instances/{instance}]] — Retrieve Instances (PS3.18 §10.4.1). */
async function retrieveInstances(options: WadoRouteOptions, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply): Promise<void> {
  const scope = scopeOf(request.params);
  const { transferSyntax } = dicomTransferSyntax(request);
  if (transferSyntax !== undefined && transferSyntax !== '*' && !/^[0-9.]+$/.test(transferSyntax)) {
    throw Errors.notAcceptable(`transfer-syntax=${transferSyntax}`, 'transfer-syntax=* or a transfer syntax UID');
  }
  const base = options.publicUrl(request);
  const { stream, first, rest } = await firstAndRest(options.service, scope);
  const warnings: string[] = [];
  const toPart = (held: HeldInstance): Part => {
    const ts = held.instance.transferSyntaxUid;
    if (transferSyntax && transferSyntax !== '*' && transferSyntax !== ts) request.log.warn({ asked: transferSyntax, stored: ts }, 'instance sent in its stored transfer syntax: transcoding is not available yet');
    const body = fileBody(options.readBuffers, held.instance.path, 0, held.instance.bytes);
    return {
      headers: { 'Content-Type': `application/dicom; transfer-syntax=${ts}`, 'Content-Location': instanceUrl(base, held.instance) },
      body,
      done: () => { body.dispose(); held.release(); },
    };
  };
  const boundary = newBoundary();
  await streamResponse(reply, { contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`, warnings, lateWarning: lateWarning(stream), onWritten: (chunk) => options.readBuffers.release(chunk) },
    multipartBody(boundary, readAhead(mapIterator(iterable(prepend(first, rest)), toPart), READ_AHEAD, (part) => part.done?.())));
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
  const scope = scopeOf(request.params);
  const ranges = parseAccept(request.headers.accept);
  const wantsXml = ranges.length > 0 && !ranges.some((r) => r.q > 0 && ((r.type === 'application' && (r.subtype === 'dicom+json' || r.subtype === 'json' || r.subtype === '*')) || (r.type === '*' && r.subtype === '*')));
  if (wantsXml && !ranges.some((r) => r.q > 0 && r.type === 'multipart' && r.subtype === 'related' && (r.params.type ?? 'application/dicom+xml') === 'application/dicom+xml')) {
    throw Errors.notAcceptable(describeRanges(ranges), 'application/dicom+json, multipart/related; type="application/dicom+xml"');
  }
  const base = options.publicUrl(request);
  const { stream, first, rest } = await firstAndRest(options.service, scope);
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
  const { first, rest } = await firstAndRest(options.service, scopeOf(params));
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
  const unsatisfiable = new GatewayError('DWG_RANGE_NOT_SATISFIABLE', 416, `range "${header}" cannot be served from ${size} bytes (one range: bytes=a-b, a-, or -n)`, { size }, { 'content-range': `bytes */${size}` });
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
  if (!/^[0-9A-Fa-f]{8}(\/\d+\/[0-9A-Fa-f]{8})*$/.test(path)) throw Errors.badParameter('bulkdata path', `"${path}" is not a tag path like 7FE00010 or 00540016/0/00181072`);
  await withInstance(options, request.params, async (header) => {
    const el = elementAt(header.dataset, path);
    if (!el || el.vr === 'SQ') throw Errors.notFound(`the instance has no binary attribute at ${path}`);
    const whole = 'bulk' in el
      ? (el.bulk.fragments ? el.bulk.fragments.slice(1) : [{ offset: el.bulk.offset, length: el.bulk.length }])
      : undefined;
    const size = whole ? whole.reduce((a, f) => a + f.length, 0) : 'bytes' in el ? el.bytes.length : 0;
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
        yield* bulkStream(header, f, { start: skip, end: skip + take - 1 }) as AsyncIterable<Buffer>;
        left -= take;
        skip = 0;
      }
    };
    if (range || parseAccept(request.headers.accept).some((r) => r.type === 'application' && r.subtype === 'octet-stream')) {
      reply.hijack();
      reply.raw.writeHead(range ? 206 : 200, {
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

/** Frame numbers of a request path (PS3.18 §10.4.1.1.4): 1-based, comma-separated. */
function frameNumbers(list: string): number[] {
  const numbers = list.split(',').map((s) => s.trim());
  if (numbers.length === 0 || numbers.some((n) => !/^[1-9]\d{0,8}$/.test(n))) throw Errors.badParameter('frames', `"${list}" is not a comma-separated list of frame numbers (1-based)`);
  return numbers.map(Number);
}

/** GET .../instances/{instance}/frames/{list} and .../instances/{instance}/pixeldata (PS3.18 §10.4.1.1.4–5). */
async function retrieveFrames(options: WadoRouteOptions, request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, allFrames: boolean): Promise<void> {
  const wanted = allFrames ? undefined : frameNumbers(request.params.frames ?? '');
  const accept = pixelAccept(request);
  const base = options.publicUrl(request);
  await withInstance(options, request.params, async (header, held) => {
    let locator;
    try {
      locator = locateFrames(header);
    } catch (err) {
      if (err instanceof FrameError) throw err.kind === 'no-pixels' ? Errors.notFound(err.message) : Errors.internal(err.message);
      throw err;
    }
    const numbers = wanted ?? Array.from({ length: locator.numberOfFrames }, (_, i) => i + 1);
    const outOfRange = numbers.find((n) => n > locator.numberOfFrames);
    if (outOfRange !== undefined) throw Errors.notFound(`frame ${outOfRange} does not exist: the instance has ${locator.numberOfFrames} frame${locator.numberOfFrames === 1 ? '' : 's'}`);
    const ts = locator.transferSyntaxUid;
    const mediaType = locator.encapsulated ? FRAME_MEDIA_TYPE[ts] ?? 'application/octet-stream' : 'application/octet-stream';
    let partType: string;
    if (!locator.encapsulated && (accept.native || accept.storedBitstream)) partType = 'application/octet-stream';
    else if (locator.encapsulated && (accept.storedBitstream || accept.mediaTypes.has(mediaType))) partType = accept.mediaTypes.has(mediaType) ? mediaType : 'application/octet-stream';
    else if (locator.encapsulated) {
      throw Errors.notAcceptable(`${describeRanges(parseAccept(request.headers.accept))} (frames stored as ${ts})`, `multipart/related; type="application/octet-stream"; transfer-syntax=*, or type="${mediaType}" (decompression to native frames is not available yet)`);
    } else {
      throw Errors.notAcceptable(describeRanges(parseAccept(request.headers.accept)), 'multipart/related; type="application/octet-stream"');
    }
    const url = `${instanceUrl(base, held.instance)}/frames`;
    const parts = (async function* (): AsyncGenerator<Part> {
      for (const n of numbers) {
        yield { headers: { 'Content-Type': `${partType}; transfer-syntax=${locator.encapsulated ? ts : '1.2.840.10008.1.2.1'}`, 'Content-Location': `${url}/${n}` }, body: locator.read(n) };
      }
    })();
    const boundary = newBoundary();
    await streamResponse(reply, { contentType: `multipart/related; type="${partType}"; boundary=${boundary}`, warnings: [] }, multipartBody(boundary, parts));
  });
}

/** WADO-RS (PS3.18 §10.4). */
export function registerWadoRoutes(app: FastifyInstance, options: WadoRouteOptions): void {
  const levels = ['/studies/:study', '/studies/:study/series/:series', '/studies/:study/series/:series/instances/:instance'];
  for (const path of levels) {
    app.get<{ Params: Params }>(path, (request, reply) => retrieveInstances(options, request, reply));
    app.get<{ Params: Params }>(`${path}/metadata`, (request, reply) => retrieveMetadata(options, request, reply));
  }
  const instance = '/studies/:study/series/:series/instances/:instance';
  app.get<{ Params: Params }>(`${instance}/bulkdata/*`, (request, reply) => retrieveBulkData(options, request, reply));
  app.get<{ Params: Params }>(`${instance}/frames/:frames`, (request, reply) => retrieveFrames(options, request, reply, false));
  app.get<{ Params: Params }>(`${instance}/pixeldata`, (request, reply) => retrieveFrames(options, request, reply, true));
}
