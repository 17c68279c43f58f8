import type { Archive, ArchivedInstance, HeldInstance, InstanceStream, RetrieveScope } from '../archive/archive.js';
import { locateFrames, requireFrames, FrameError, FRAME_MEDIA_TYPE, type FrameLocator } from '../codecs/frames.js';
import { planFrames, type FrameOption, type FramePlan } from './frame-delivery.js';
import { conversionProblem, transcodedPart10 } from '../codecs/transcode.js';
import { fileBody, type ReadBuffers } from './file-body.js';
import { iterable, prepend, readAhead, releasing } from './iteration.js';
import { openFirst } from './open-scope.js';
import { pixelFormatOf, PixelFormatError } from '../codecs/pixel-format.js';
import { CONVERSION_TARGETS, LOSSLESS_ENCODERS } from '../codecs/transfer-syntaxes.js';
import type { CodecPool } from '../codecs/codec-pool.js';
import { readPart10Header, bulkStream, type StoredHeader } from '../dicom/part10-reader.js';
import { toDicomJson, type DicomJsonObject } from '../dicom/json-model.js';
import { wordSizeOf } from '../dicom/dataset-codec.js';
import { PIXEL_DATA_TAGS, parseHexTag } from '../dicom/tag.js';
import type { DataElement, Dataset } from '../dicom/dataset.js';
import { Errors, type GatewayError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';

export interface WadoServiceOptions {
  /** Binary values longer than this become BulkDataURIs in metadata (Pixel Data always does). */
  bulkDataThreshold: number;
  /** Read buffers shared by every response that streams stored files. */
  readBuffers: ReadBuffers;
  /** Decoding and encoding of frames, in worker threads. */
  codecs: CodecPool;
  logger?: Logger;
}

/** One part of a multipart answer. */
export interface WadoPart {
  mediaType: string;
  location?: string;
  /** A promise: a frame being read or decoded (several at once, read ahead); its size is known once it resolves. */
  body: Buffer | Promise<Buffer> | AsyncIterable<Buffer>;
  /** Called once the part has been written or abandoned: ends the hold on its instance. */
  done?: () => void;
}

/** A multipart/related answer (PS3.18 §8.7.1): its root type and parts, produced as they are written. */
export interface WadoParts {
  type: string;
  parts: AsyncIterable<WadoPart>;
  /** Asked after the last part: what was left out (a 299 Warning in the trailer). */
  lateWarning: () => string | undefined;
  /** Buffers of the parts that may be reused once written (read buffers). */
  recycle?: (chunk: Buffer) => void;
}

/** Metadata: one DICOM JSON object per instance, the route writes it as JSON or XML. */
export interface WadoMetadata {
  objects: AsyncIterable<DicomJsonObject>;
  lateWarning: () => string | undefined;
  /**
   * Answered from what the gateway holds (its archive, or a scope cached complete), nothing awaited from a PACS:
   * reading it ahead costs no first byte.
   */
  local: boolean;
}

/** The bytes of one bulk data value, or of the range of it asked for. */
export interface WadoBulkData {
  size: number;
  range: ByteRange | undefined;
  body: AsyncGenerator<Buffer, void, undefined>;
}

export interface ByteRange {
  start: number;
  end: number;
}

/** What the client accepts for frames: the options in preference order and, for 406 messages, what it asked. */
export interface FrameAcceptance {
  options: FrameOption[];
  asked: string;
}

/** Parts prepared ahead of the one being written, each reading its first chunk (≤ 1 MiB) meanwhile. */
const READ_AHEAD = 4;
/** Frames produced ahead of the one being written (decoding runs in the codec workers meanwhile). */
const FRAMES_AHEAD = 4;

const instanceUrl = (base: string, i: ArchivedInstance): string =>
  `${base}/studies/${i.studyInstanceUid}/series/${i.seriesInstanceUid}/instances/${i.sopInstanceUid}`;

/** An instance's frames located, and how they will be sent (or why they cannot be). */
type PixelSource =
  { ok: true; locator: FrameLocator; plan: FramePlan } | { ok: false; status: 404 | 406 | 500; message: string };

/**
 * WADO-RS (PS3.18 §10.4) over the tenant's archive: instances in an acceptable transfer syntax (as stored or
 * converted), metadata with BulkDataURIs, bulk data, frames and pixel data. Each answer is known good before its
 * first byte (the status is decided on the first instance) and then produced while it is written; instances are
 * held while in use and released when their part is written or abandoned.
 */
export class WadoService {
  private readonly log: Logger;

  constructor(
    private readonly archive: Archive,
    private readonly options: WadoServiceOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'wado' });
  }

  /**
   * Retrieve Instances (PS3.18 §10.4.1.1.1): each instance in the first of `syntaxes` it can be had in
   * (§8.7.3.5). When the first instance cannot be had in any, 406; a later one that cannot is left out and counted.
   */
  async instances(scope: RetrieveScope, syntaxes: readonly string[], base: string): Promise<WadoParts> {
    const { stream, first, rest } = await openFirst(this.archive, scope);
    const firstPart = this.instancePart(base, first, syntaxes);
    if (!firstPart.part) {
      await rest.return?.();
      throw Errors.notAcceptable(
        `transfer-syntax ${syntaxes.join(', ')}`,
        `${firstPart.problem}; transfer-syntax=* serves every instance as stored, or one of ${[...CONVERSION_TARGETS].join(', ')}`,
      );
    }
    const state = { omitted: 0 };
    const others = async function* (this: WadoService): AsyncGenerator<WadoPart> {
      for await (const held of iterable(rest)) {
        const r = this.instancePart(base, held, syntaxes);
        if (r.part) yield r.part;
        else {
          state.omitted++;
          this.log.warn({ reason: r.problem }, 'instance left out: not available in an acceptable transfer syntax');
        }
      }
    }.call(this);
    const late = lateWarning(stream);
    return {
      type: 'application/dicom',
      parts: readAhead(prepend(firstPart.part, others), READ_AHEAD, (part) => part.done?.()),
      lateWarning: () =>
        joined(
          late(),
          state.omitted
            ? `${state.omitted} instance(s) left out: not available in the requested transfer syntax`
            : undefined,
        ),
      recycle: (chunk) => this.options.readBuffers.release(chunk),
    };
  }

  /** Retrieve Metadata (PS3.18 §10.4.1.1.2): each instance's header as DICOM JSON with BulkDataURIs (Annex F). */
  async metadata(scope: RetrieveScope, base: string): Promise<WadoMetadata> {
    // Kept at ingest: no file is parsed (the embedded archive).
    const stored = await this.archive.storedMetadata?.(scope);
    if (stored) {
      const objects = (async function* (): AsyncGenerator<DicomJsonObject> {
        for (const { instance, metadata } of stored) yield withBulkDataBase(metadata, instanceUrl(base, instance));
      })();
      return { objects, lateWarning: () => undefined, local: true };
    }
    const { stream, first, rest } = await openFirst(this.archive, scope);
    const firstJson = this.metadataOf(base, first);
    const objects = async function* (this: WadoService): AsyncGenerator<DicomJsonObject> {
      yield firstJson;
      for await (const held of iterable(rest)) yield this.metadataOf(base, held);
    }.call(this);
    return {
      objects: releasing(objects, () => {
        void rest.return?.();
      }),
      lateWarning: lateWarning(stream),
      local: stream.fromCache,
    };
  }

  /**
   * The BulkDataURIs metadata hands out (PS3.18 §10.4.1.1.6): the value at `path` ("7FE00010",
   * "00540016/0/00181072"), whole or the byte range `rangeOf` picks once the size is known (it may throw 416).
   */
  async bulkData(
    scope: Required<RetrieveScope>,
    path: string,
    rangeOf: (size: number) => ByteRange | undefined,
  ): Promise<WadoBulkData> {
    const { held, header } = await this.openInstance(scope);
    try {
      const el = elementAt(header.dataset, path);
      if (!el || el.vr === 'SQ') throw Errors.notFound(`the instance has no binary attribute at ${path}`);
      const whole =
        'bulk' in el
          ? el.bulk.fragments
            ? el.bulk.fragments.slice(1)
            : [{ offset: el.bulk.offset, length: el.bulk.length }]
          : undefined;
      const size = whole ? whole.reduce((a, f) => a + f.length, 0) : 'bytes' in el ? el.bytes.length : 0;
      const wordSize = 'bulk' in el && !el.bulk.fragments ? wordSizeOf(el.vr) : 1;
      const range = rangeOf(size);
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
          if (skip >= f.length) {
            skip -= f.length;
            continue;
          }
          const take = Math.min(f.length - skip, left);
          yield* bulkStream(header, f, { start: skip, end: skip + take - 1 }, wordSize);
          left -= take;
          skip = 0;
        }
      };
      return { size, range, body: releasing(body(), held.release) };
    } catch (err) {
      held.release();
      throw err;
    }
  }

  /**
   * Frames and instance pixel data (PS3.18 §10.4.1.1.4–5): `numbers` (all when undefined) in the first
   * representation the client accepts that the gateway can make — the stored bitstream, native samples (decoded
   * in the codec workers), or a lossless re-encoding (frame-delivery.ts).
   */
  async frames(
    scope: Required<RetrieveScope>,
    numbers: number[] | undefined,
    accepted: FrameAcceptance,
    base: string,
  ): Promise<WadoParts> {
    const { held, header } = await this.openInstance(scope);
    try {
      const source = this.pixelSource(header, accepted.options);
      if (!source.ok)
        throw source.status === 404
          ? Errors.notFound(source.message)
          : source.status === 406
            ? notAcceptableFrames(accepted, source.message)
            : Errors.internal(source.message);
      const total = source.locator.numberOfFrames;
      const wanted = numbers ?? Array.from({ length: total }, (_, i) => i + 1);
      requireFrames(wanted, total);
      const parts = readAhead(frameParts(source, wanted, `${instanceUrl(base, held.instance)}/frames`), FRAMES_AHEAD);
      return { type: source.plan.mediaType, parts: releasing(parts, held.release), lateWarning: () => undefined };
    } catch (err) {
      held.release();
      throw err;
    }
  }

  /**
   * Study or series pixel data (PS3.18 §10.4.1.1.5): every frame of every instance with pixel data, instance by
   * instance as they arrive. Instances without pixel data, or not to be had in an acceptable representation, are
   * left out and counted; none at all → 404 (or 406).
   */
  async scopePixelData(scope: RetrieveScope, accepted: FrameAcceptance, base: string): Promise<WadoParts> {
    const stream = await this.archive.open(scope);
    const instances = stream[Symbol.asyncIterator]();
    const state = { skipped: 0, refused: undefined as string | undefined };
    /** The next instance whose frames can be sent, with its source; the others are released and counted. */
    const nextUsable = async (): Promise<
      { held: HeldInstance; source: Extract<PixelSource, { ok: true }> } | undefined
    > => {
      for (;;) {
        const r = await instances.next();
        if (r.done) return undefined;
        const held = r.value;
        const source = this.pixelSource(
          readPart10Header(held.instance.path, this.options.bulkDataThreshold),
          accepted.options,
        );
        if (source.ok) return { held, source };
        if (source.status === 406) state.refused ??= source.message;
        state.skipped++;
        held.release();
      }
    };
    const first = await nextUsable();
    if (!first) {
      await instances.return?.(undefined);
      throw state.refused
        ? notAcceptableFrames(accepted, state.refused)
        : Errors.notFound('no instance of the request has pixel data');
    }
    const parts = (async function* (): AsyncGenerator<WadoPart> {
      let current: typeof first | undefined = first;
      try {
        while (current) {
          const { held, source } = current;
          try {
            const numbers = Array.from({ length: source.locator.numberOfFrames }, (_, i) => i + 1);
            yield* readAhead(frameParts(source, numbers, `${instanceUrl(base, held.instance)}/frames`), FRAMES_AHEAD);
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
    return {
      type: first.source.plan.mediaType,
      // Ended before its first part (a response that never started): what it holds is let go all the same.
      parts: releasing(parts, () => {
        first.held.release();
        void instances.return?.(undefined);
      }),
      lateWarning: () =>
        joined(
          late(),
          state.skipped
            ? `${state.skipped} instance(s) left out: no pixel data, or none in an acceptable representation`
            : undefined,
        ),
    };
  }

  /** The one instance of an instance-level request, held, with its header parsed. */
  private async openInstance(scope: Required<RetrieveScope>): Promise<{ held: HeldInstance; header: StoredHeader }> {
    const { first, rest } = await openFirst(this.archive, scope);
    await rest.return?.();
    try {
      return { held: first, header: readPart10Header(first.instance.path, this.options.bulkDataThreshold) };
    } catch (err) {
      first.release();
      throw err;
    }
  }

  /**
   * The part for one instance in the first acceptable transfer syntax it can be had in: as stored, or converted
   * (transcode.ts); else why not. The instance is released when its part is done, or at once when there is none.
   */
  private instancePart(
    base: string,
    held: HeldInstance,
    syntaxes: readonly string[],
  ): { part: WadoPart; problem?: undefined } | { part?: undefined; problem: string } {
    const stored = held.instance.transferSyntaxUid;
    const location = instanceUrl(base, held.instance);
    let header: StoredHeader | undefined;
    const problems: string[] = [];
    for (const wanted of syntaxes) {
      if (wanted === '*' || wanted === stored) {
        const body = fileBody(this.options.readBuffers, held.instance.path, 0, held.instance.bytes);
        return {
          part: {
            mediaType: `application/dicom; transfer-syntax=${stored}`,
            location,
            body,
            done: () => {
              body.dispose();
              held.release();
            },
          },
        };
      }
      header ??= readPart10Header(held.instance.path, 64 * 1024);
      const problem = conversionProblem(header, wanted);
      if (problem) {
        problems.push(problem);
        continue;
      }
      return {
        part: {
          mediaType: `application/dicom; transfer-syntax=${wanted}`,
          location,
          body: transcodedPart10(header, wanted, this.options.codecs),
          done: held.release,
        },
      };
    }
    held.release();
    return { problem: `instance ${held.instance.sopInstanceUid} is stored as ${stored}: ${problems.join('; ')}` };
  }

  /** A held instance's header as DICOM JSON with BulkDataURIs (PS3.18 §10.4.1.2.2, Annex F); releases it. */
  private metadataOf(base: string, held: HeldInstance): DicomJsonObject {
    try {
      const header = readPart10Header(held.instance.path, this.options.bulkDataThreshold);
      const url = instanceUrl(base, held.instance);
      return toDicomJson(header.dataset, {
        inlineBinaryMaxBytes: this.options.bulkDataThreshold,
        bulkDataUri: (path) => `${url}/bulkdata/${path}`,
        alwaysBulk: PIXEL_DATA_TAGS,
      });
    } finally {
      held.release();
    }
  }

  private pixelSource(header: StoredHeader, accepted: FrameOption[]): PixelSource {
    let locator: FrameLocator;
    let format;
    try {
      locator = locateFrames(header);
      format = pixelFormatOf(header.dataset);
    } catch (err) {
      if (err instanceof FrameError)
        return { ok: false, status: err.kind === 'no-pixels' ? 404 : 500, message: err.message };
      if (err instanceof PixelFormatError) return { ok: false, status: 500, message: err.message };
      throw err;
    }
    const plan = planFrames(locator, format, accepted, this.options.codecs);
    if (!plan) return { ok: false, status: 406, message: `frames stored as ${locator.transferSyntaxUid}` };
    return { ok: true, locator, plan };
  }
}

/** Stored metadata with its relative BulkDataURIs ("bulkdata/7FE00010") made absolute under the instance's URL. */
function withBulkDataBase(json: DicomJsonObject, url: string): DicomJsonObject {
  const out: DicomJsonObject = {};
  for (const [hex, attr] of Object.entries(json)) {
    if (attr.BulkDataURI !== undefined) out[hex] = { ...attr, BulkDataURI: `${url}/${attr.BulkDataURI}` };
    else if (attr.vr === 'SQ' && attr.Value)
      out[hex] = { ...attr, Value: attr.Value.map((item) => withBulkDataBase(item as DicomJsonObject, url)) };
    else out[hex] = attr;
  }
  return out;
}

const notAcceptableFrames = (accepted: FrameAcceptance, why: string): GatewayError =>
  Errors.notAcceptable(
    `${accepted.asked} (${why})`,
    `multipart/related; type="application/octet-stream"[; transfer-syntax=*], or an image type of ${Object.keys(
      LOSSLESS_ENCODERS,
    )
      .map((ts) => FRAME_MEDIA_TYPE[ts])
      .filter((v, i, a) => a.indexOf(v) === i)
      .join(', ')}`,
  );

/** One part per frame of one instance, each started when the part is created (decoded or re-encoded meanwhile). */
async function* frameParts(
  source: Extract<PixelSource, { ok: true }>,
  numbers: number[],
  url: string,
): AsyncGenerator<WadoPart> {
  for (const n of numbers) {
    const frame = source.plan.produce(n).then((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength));
    frame.catch(() => {});
    yield {
      mediaType: `${source.plan.mediaType}; transfer-syntax=${source.plan.transferSyntaxUid}`,
      location: `${url}/${n}`,
      body: frame,
    };
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

function lateWarning(stream: InstanceStream): () => string | undefined {
  return () =>
    stream.missing > 0
      ? `${stream.missing} instance(s) of the request could not be retrieved from the PACS${stream.failedSubOperations ? ` (${stream.failedSubOperations} failed sub-operations)` : ''}`
      : undefined;
}

const joined = (...warnings: (string | undefined)[]): string | undefined =>
  warnings.filter(Boolean).join('; ') || undefined;
