import { LRUCache } from 'lru-cache';
import { retainedBytes } from './retained-bytes.js';
import { etagOf, type RenderAnswer, type RenderRequest, type RenderedPart } from './render-answer.js';
import { loadedInstance, type Loaded } from './loaded-instance.js';
import { renderedDocument } from './rendered-documents.js';
import { thumbnailFrame, thumbnailInstance } from './thumbnail-choice.js';
import {
  describeScope,
  type Archive,
  type RetrieveScope,
  type HeldInstance,
  type InstanceStream,
  type CatalogInstance,
  type ArchivedInstance,
} from '../archive/archive.js';
import { requireFrames } from '../codecs/frames.js';
import { CodecPoolBusyError, type CodecPool } from '../codecs/codec-pool.js';
import { readPart10Header, type StoredHeader } from '../dicom/part10-reader.js';
import { tag } from '../dicom/tag.js';
import { Errors, GatewayError } from '../errors.js';
import { openFirst } from './open-scope.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import {
  describeFrame,
  numbers,
  RenderDescriptionError,
  type RenderDescription,
  type Window,
} from '../render/image-description.js';
import { renderFrame, type DecodedFrame, type Pixels } from '../render/render-frame.js';
import {
  encodeImage,
  encodeGif,
  outputSize,
  transformPixels,
  ViewportError,
  type ImageMediaType,
  type Viewport,
} from '../render/output.js';
import { annotationLines, annotationOverlays } from '../render/annotate.js';
import { sopKind } from '../render/sop-kind.js';
import { iconImage } from '../render/non-image.js';
import { SpanStatusCode } from '@opentelemetry/api';
import { tracer } from '../tracing/tracing.js';

/** Values up to this size are read with a header (LUTs, palettes); larger ones stay in the file. */
const HEADER_BULK_THRESHOLD = 256 * 1024;
/** An animated GIF holds its frames in memory while it is encoded: at most this many pixels in all. */
const MAX_GIF_PIXELS = 64 * 1024 * 1024;

export interface RenderServiceOptions {
  /** Bytes of encoded images kept (rendered cache). */
  renderedCacheBytes: number;
  /** Bytes of decoded frames kept, so that another window or size does not decode again. */
  frameCacheBytes: number;
  thumbnail: {
    /** Thumbnails fit in a square of this many pixels unless a viewport says otherwise. */
    size: number;
    /** Study/series thumbnails: the middle instance (and middle frame) of the first image series, or the first. */
    choice: 'middle' | 'first';
  };
  logger?: Logger;
  /** Told of each image rendered and encoded (not those the rendered cache answered): metrics. */
  observer?: RenderObserver;
}

/** What the render service reports of its work: each image made, from its stored transfer syntax to its type. */
export interface RenderObserver {
  rendered(transferSyntaxUid: string, mediaType: string, seconds: number): void;
}

/**
 * Rendered and thumbnail resources (PS3.18 §10.4.1.1.3, §8.3.5): instances come from the tenant's archive (for a
 * PACS: its cache, or a retrieval), frames are decoded only when asked for (in the codec workers when compressed),
 * run through the PS3.4 Annex N pipeline, and encoded as JPEG, PNG or GIF. Decoded frames and encoded images are kept in
 * byte-bounded LRU caches; identical concurrent work is done once.
 */
export class RenderService {
  private readonly headers = new WeakMap<ArchivedInstance, StoredHeader>();
  private readonly descriptions = new WeakMap<StoredHeader, Map<number, RenderDescription>>();
  private readonly frames: LRUCache<string, DecodedFrame>;
  private readonly rendered: LRUCache<string, Buffer>;
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly log: Logger;

  constructor(
    private readonly archive: Archive,
    private readonly codecs: CodecPool,
    private readonly options: RenderServiceOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'render' });
    // Sizes are what an entry keeps alive: the whole buffer under a view, and a little for the entry itself.
    this.frames = new LRUCache({
      maxSize: Math.max(1, options.frameCacheBytes),
      sizeCalculation: (f) => retainedBytes(f.samples),
    });
    this.rendered = new LRUCache<string, Buffer>({
      maxSize: Math.max(1, options.renderedCacheBytes),
      sizeCalculation: (b) => retainedBytes(b),
    });
  }

  /** Work done since start: frames decoded (compressed) or read (native), images encoded. */
  readonly counters = { framesDecoded: 0, imagesEncoded: 0 };

  /** Bytes held by the two caches (metrics, tests). */
  get cachedBytes(): { frames: number; rendered: number } {
    return { frames: this.frames.calculatedSize, rendered: this.rendered.calculatedSize };
  }

  // -------------------------------------------------------------------------------------------------------
  // Instances and frames

  /**
   * Rendered Instance and Rendered Frames. One frame → a single image when a single-part type is acceptable;
   * several frames → multipart, or one animated GIF when GIF is the single-part type; a multi-frame instance asked
   * as one JPEG/PNG → its first frame, said in a Warning.
   */
  async instance(
    scope: Required<RetrieveScope>,
    frameList: number[] | undefined,
    request: RenderRequest,
    requestKey: string,
  ): Promise<RenderAnswer> {
    const loaded = await this.load(scope);
    let handedOver = false;
    try {
      if (loaded.kind !== 'image' || !loaded.image) return await renderedDocument(loaded, request, etagOf(requestKey));
      const total = loaded.image.format.numberOfFrames;
      const wanted = frameList ?? Array.from({ length: total }, (_, i) => i + 1);
      requireFrames(wanted, total);
      const { media } = request;
      const etag = etagOf(requestKey);
      if (wanted.length > 1) {
        if (media.multipart) {
          handedOver = true;
          return {
            kind: 'multipart',
            partType: media.multipart,
            status: 200,
            warnings: [],
            parts: this.frameParts(loaded, wanted, request, media.multipart),
            lateWarning: () => undefined,
          };
        }
        if (media.single === 'image/gif')
          return {
            kind: 'single',
            mediaType: 'image/gif',
            body: await this.animatedGif(loaded, wanted, request),
            etag,
            warnings: [],
          };
        if (frameList || !media.single)
          throw Errors.notAcceptable(
            media.asked,
            'multipart/related; type="image/jpeg" (or image/png, image/gif) for several frames, or image/gif for one animated image',
          );
      }
      const n = wanted[0] as number;
      const mediaType = media.single ?? media.multipart;
      if (!mediaType) throw Errors.notAcceptable(media.asked, 'image/jpeg, image/png, image/gif');
      const body = await this.image(loaded, n, request, mediaType);
      // A whole multi-frame instance asked as one JPEG or PNG: its first frame, and a Warning saying so.
      const warnings =
        wanted.length > 1
          ? [`multi-frame instance: frame 1 of ${total} rendered; ask multipart/related or image/gif for every frame`]
          : [];
      if (!media.single) {
        handedOver = true;
        loaded.held.release();
        const parts = (async function* (): AsyncGenerator<RenderedPart> {
          yield { mediaType, body };
        })();
        return { kind: 'multipart', partType: mediaType, status: 200, warnings, parts, lateWarning: () => undefined };
      }
      return { kind: 'single', mediaType, body, etag, warnings };
    } finally {
      if (!handedOver) loaded.held.release();
    }
  }

  /** Each frame as a part; the instance stays pinned until the last part is made. */
  private async *frameParts(
    loaded: Loaded,
    frames: number[],
    request: RenderRequest,
    mediaType: ImageMediaType,
  ): AsyncGenerator<RenderedPart> {
    try {
      for (const n of frames) yield { mediaType, body: await this.image(loaded, n, request, mediaType) };
    } finally {
      loaded.held.release();
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Studies and series

  /**
   * Rendered Study / Rendered Series: one part per image frame, as instances arrive. Instances that are not
   * images are left out with 206 and a Warning counting them (known from the C-FIND before anything is
   * retrieved); nothing renderable → 404; images found unrenderable later are counted in the trailer.
   */
  async scope(scope: RetrieveScope, request: RenderRequest): Promise<RenderAnswer> {
    const mediaType = request.media.multipart;
    if (!mediaType)
      throw Errors.notAcceptable(
        request.media.asked,
        'multipart/related; type="image/jpeg" (or image/png, image/gif): a study or series has several images',
      );
    const listed = await this.listScope(scope);
    const images = listed.filter((i) => sopKind(i.sopClassUid) === 'image');
    if (images.length === 0)
      throw Errors.notFound(
        listed.length
          ? `nothing in ${describeScope(scope)} can be rendered: its ${listed.length} instance(s) are not images`
          : `${describeScope(scope)} is not known to the PACS`,
      );
    const skipped = listed.length - images.length;
    const warnings = skipped
      ? [
          `${skipped} instance(s) not rendered: not images (${[...new Set(listed.filter((i) => sopKind(i.sopClassUid) !== 'image').map((i) => i.sopClassUid))].join(', ')})`,
        ]
      : [];
    const imageUids = new Set(images.map((i) => i.uid));
    const stream = await this.archive.open(scope);
    const failures = { count: 0 };
    const lateWarning = (): string | undefined => {
      const notes = [
        failures.count ? `${failures.count} image(s) could not be rendered` : '',
        stream.missing ? `${stream.missing} instance(s) could not be retrieved from the PACS` : '',
      ].filter(Boolean);
      return notes.length ? notes.join('; ') : undefined;
    };
    return {
      kind: 'multipart',
      partType: mediaType,
      status: skipped ? 206 : 200,
      warnings,
      parts: this.scopeParts(stream, imageUids, request, mediaType, failures),
      lateWarning,
    };
  }

  /** The frames of each image of a scope as it arrives; images that fail are counted and left out. */
  private async *scopeParts(
    stream: InstanceStream,
    imageUids: ReadonlySet<string>,
    request: RenderRequest,
    mediaType: ImageMediaType,
    failures: { count: number },
  ): AsyncGenerator<RenderedPart> {
    for await (const held of stream) {
      const sop = held.instance.sopInstanceUid;
      if (!imageUids.has(sop)) {
        held.release();
        continue;
      }
      try {
        const loaded = this.loadHeld(held);
        if (!loaded.image) throw new Error(loaded.problem ?? 'not an image');
        for (let n = 1; n <= loaded.image.format.numberOfFrames; n++) {
          let body: Buffer;
          try {
            body = await this.image(loaded, n, request, mediaType);
          } catch (err) {
            if (err instanceof GatewayError && err.statusCode < 500) throw err; // the request is wrong (viewport): fail
            throw Object.assign(new Error((err as Error).message), { frame: n });
          }
          yield { mediaType, source: { series: held.instance.seriesInstanceUid, instance: sop, frame: n }, body };
        }
      } catch (err) {
        if (err instanceof GatewayError) throw err;
        failures.count++;
        this.log.warn({ sop, err: (err as Error).message }, 'image left out of a rendered study or series');
      } finally {
        held.release();
      }
    }
  }

  private async listScope(scope: RetrieveScope): Promise<CatalogInstance[]> {
    return (await this.archive.catalog(scope)).flat();
  }

  // -------------------------------------------------------------------------------------------------------
  // Thumbnails

  /**
   * Thumbnails (PS3.18 §10.4.1.1.3): small by default (fit in `thumbnail.size`, a viewport overrides), of a
   * representative image — study: the first image series' middle instance; series: its middle instance;
   * multi-frame: the middle frame (or the first of each with `thumbnail.choice: first`). Instances that are not
   * images get an icon. Nothing at all → 404.
   */
  async thumbnail(
    scope: RetrieveScope,
    frameList: number[] | undefined,
    request: RenderRequest,
    requestKey: string,
  ): Promise<RenderAnswer> {
    const mediaType = request.media.single ?? request.media.multipart;
    if (!mediaType) throw Errors.notAcceptable(request.media.asked, 'image/jpeg, image/png, image/gif');
    const instanceScope = scope.instance ? (scope as Required<RetrieveScope>) : await this.representative(scope);
    const fit = request.viewport
      ? undefined
      : { width: this.options.thumbnail.size, height: this.options.thumbnail.size };
    const loaded = await this.load(instanceScope);
    try {
      const etag = etagOf(`${requestKey}|${instanceScope.instance}`);
      if (!loaded.image) {
        const kind = loaded.kind === 'image' ? 'other' : loaded.kind;
        const size = request.viewport ?? fit ?? { width: 128, height: 128 };
        return {
          kind: 'single',
          mediaType,
          body: await iconImage(kind, size, mediaType, request.quality),
          etag,
          warnings: [],
        };
      }
      const total = loaded.image.format.numberOfFrames;
      const n = frameList?.[0] ?? thumbnailFrame(total, this.options.thumbnail.choice);
      requireFrames([n], total);
      const body = await this.image(
        loaded,
        n,
        { ...request, annotation: { patient: false, technique: false } },
        mediaType,
        fit,
        'thumbnail',
      );
      return { kind: 'single', mediaType, body, etag, warnings: [] };
    } finally {
      loaded.held.release();
    }
  }

  /** The instance a study or series thumbnail shows (thumbnail-choice.ts). */
  private async representative(scope: RetrieveScope): Promise<Required<RetrieveScope>> {
    const chosen = thumbnailInstance(await this.archive.catalog(scope), this.options.thumbnail.choice);
    if (!chosen) throw Errors.notFound(`${describeScope(scope)} has no instance to make a thumbnail of`);
    return { study: scope.study, series: chosen.seriesUid, instance: chosen.uid };
  }

  // -------------------------------------------------------------------------------------------------------
  // Rendering one frame

  /** Retrieves (or finds cached) one instance and reads its header. */
  private async load(scope: Required<RetrieveScope>): Promise<Loaded> {
    const { first, rest } = await openFirst(this.archive, scope);
    await rest.return?.(undefined);
    try {
      return this.loadHeld(first);
    } catch (err) {
      first.release();
      throw err;
    }
  }

  private loadHeld(held: HeldInstance): Loaded {
    let header = this.headers.get(held.instance);
    if (!header) {
      header = readPart10Header(held.instance.path, HEADER_BULK_THRESHOLD);
      this.headers.set(held.instance, header);
    }
    return loadedInstance(held, header);
  }

  private description(loaded: Loaded, n: number): RenderDescription {
    let byFrame = this.descriptions.get(loaded.header);
    if (!byFrame) {
      byFrame = new Map();
      this.descriptions.set(loaded.header, byFrame);
    }
    let d = byFrame.get(n);
    if (!d) {
      try {
        d = describeFrame(loaded.header.dataset, (loaded.image as NonNullable<Loaded['image']>).format, n);
      } catch (err) {
        if (err instanceof RenderDescriptionError) throw Errors.unrenderable(err.message);
        throw err;
      }
      byFrame.set(n, d);
    }
    return d;
  }

  /** Frame n as native samples, decoded at most once while it stays in the frame cache. */
  private decoded(loaded: Loaded, n: number): Promise<DecodedFrame> {
    const image = loaded.image as NonNullable<Loaded['image']>;
    const key = `${loaded.held.instance.sopInstanceUid}#${n}`;
    const hit = this.frames.get(key);
    if (hit) return Promise.resolve(hit);
    return this.once(key, async () => {
      const bytes = image.locator.read(n);
      this.counters.framesDecoded++;
      let frame: DecodedFrame;
      if (!image.locator.encapsulated) {
        frame = { format: image.format, photometric: image.format.photometricInterpretation, samples: bytes };
      } else {
        try {
          const r = await this.codecs.decode(image.locator.transferSyntaxUid, image.format, bytes);
          // Decoders give colour-by-pixel whatever the Planar Configuration says.
          frame = {
            format: { ...image.format, planarConfiguration: 0 },
            photometric: r.photometricInterpretation,
            samples: r.data,
          };
        } catch (err) {
          if (err instanceof CodecPoolBusyError) throw err;
          throw Errors.decodeFailed(n, loaded.held.instance.sopInstanceUid, (err as Error).message);
        }
      }
      this.frames.set(key, frame);
      return frame;
    });
  }

  /** Frame n rendered and encoded, from the rendered cache when the same image was made before. */
  private image(
    loaded: Loaded,
    n: number,
    request: RenderRequest,
    mediaType: ImageMediaType,
    fit?: { width: number; height: number },
    purpose = 'rendered',
  ): Promise<Buffer> {
    const key = [
      purpose,
      loaded.held.instance.sopInstanceUid,
      n,
      mediaType,
      request.quality,
      windowKey(request.window),
      viewportKey(request.viewport),
      fit ? `${fit.width}x${fit.height}` : '',
      request.annotation.patient ? 'p' : '',
      request.annotation.technique ? 't' : '',
      request.locale ?? '',
      request.srgbProfile ? 'srgb' : '',
    ].join('|');
    const hit = this.rendered.get(key);
    if (hit) return Promise.resolve(hit);
    return this.once(key, () =>
      tracer().startActiveSpan(
        'render',
        {
          attributes: {
            'dicom.transfer_syntax': loaded.header.meta.transferSyntaxUid,
            'dicomweb.media_type': mediaType,
            'dicom.frame': n,
          },
        },
        async (span) => {
          try {
            return await this.renderImage(loaded, n, request, mediaType, key, fit);
          } catch (err) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
            throw err;
          } finally {
            span.end();
          }
        },
      ),
    );
  }

  /** Frame n through the pipeline and the encoder, into the rendered cache. */
  private async renderImage(
    loaded: Loaded,
    n: number,
    request: RenderRequest,
    mediaType: ImageMediaType,
    key: string,
    fit?: { width: number; height: number },
  ): Promise<Buffer> {
    const started = performance.now();
    const pixels = await this.pixels(loaded, n, request.window);
    const overlays = await this.overlays(loaded, n, pixels, request, fit);
    this.counters.imagesEncoded++;
    let body: Buffer;
    try {
      body = await encodeImage(pixels, {
        mediaType,
        quality: request.quality,
        ...(request.viewport ? { viewport: request.viewport } : {}),
        ...(fit ? { fit } : {}),
        overlays,
        srgbProfile: request.srgbProfile,
      });
    } catch (err) {
      if (err instanceof ViewportError) throw Errors.badParameter('viewport', err.message);
      throw err;
    }
    // The encoder's buffer may sit in a larger allocation (libvips and gifenc grow theirs as they write): the
    // cache keeps an exact copy, so that what it counts is what it holds (~10 KB copied per image).
    body = Buffer.from(body);
    this.rendered.set(key, body);
    this.options.observer?.rendered(
      loaded.header.meta.transferSyntaxUid,
      mediaType,
      (performance.now() - started) / 1000,
    );
    return body;
  }

  private async pixels(loaded: Loaded, n: number, window: Window | undefined): Promise<Pixels & { window?: Window }> {
    const frame = await this.decoded(loaded, n);
    return renderFrame(frame, this.description(loaded, n), window);
  }

  private async overlays(
    loaded: Loaded,
    n: number,
    pixels: Pixels & { window?: Window },
    request: RenderRequest,
    fit?: { width: number; height: number },
  ): Promise<import('sharp').OverlayOptions[]> {
    if (!request.annotation.patient && !request.annotation.technique) return [];
    const lines = annotationLines(
      {
        dataset: loaded.header.dataset,
        frame: n,
        frames: loaded.image?.format.numberOfFrames ?? 1,
        ...(pixels.window ? { window: pixels.window } : {}),
        ...(request.locale ? { locale: request.locale } : {}),
      },
      request.annotation,
    );
    return annotationOverlays(
      lines,
      outputSize(pixels, { ...(request.viewport ? { viewport: request.viewport } : {}), ...(fit ? { fit } : {}) }),
    );
  }

  /** Frames as one animated GIF, timed by Frame Time or Frame Time Vector (PS3.3 C.7.6.5). */
  private async animatedGif(loaded: Loaded, frames: number[], request: RenderRequest): Promise<Buffer> {
    const format = (loaded.image as NonNullable<Loaded['image']>).format;
    const size = outputSize(
      { width: format.columns, height: format.rows },
      request.viewport ? { viewport: request.viewport } : {},
    );
    if (size.width * size.height * frames.length > MAX_GIF_PIXELS)
      throw Errors.badParameter(
        'accept',
        `image/gif of ${frames.length} frames of ${size.width}×${size.height} is too large for one image; ask multipart/related`,
      );
    const ds = loaded.header.dataset;
    const frameTime = numbers(ds, tag(0x0018, 0x1063))[0];
    const vector = numbers(ds, tag(0x0018, 0x1065));
    const delays = frames.map((n) => vector[n] ?? vector[n - 1] ?? frameTime ?? 100);
    const rendered: Pixels[] = [];
    for (const n of frames) {
      const pixels = await this.pixels(loaded, n, request.window);
      const overlays = await this.overlays(loaded, n, pixels, request);
      try {
        rendered.push(
          await transformPixels(pixels, { ...(request.viewport ? { viewport: request.viewport } : {}), overlays }),
        );
      } catch (err) {
        if (err instanceof ViewportError) throw Errors.badParameter('viewport', err.message);
        throw err;
      }
    }
    return encodeGif(rendered, delays);
  }

  /** Single-flight: concurrent calls with one key share one computation. */
  private once<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running as Promise<T>;
    const p = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }
}

const windowKey = (w: Window | undefined): string => (w ? `${w.center},${w.width},${w.fn}` : '');
const viewportKey = (v: Viewport | undefined): string =>
  v
    ? `${v.width},${v.height},${v.region?.x ?? ''},${v.region?.y ?? ''},${v.region?.width ?? ''},${v.region?.height ?? ''}`
    : '';
