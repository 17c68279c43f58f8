import { createHash } from 'node:crypto';
import type { ImageMediaType, Viewport } from '../render/output.js';
import type { Window } from '../render/image-description.js';
import type { AnnotationRequest } from '../render/annotate.js';

/** Bumped when rendering changes, so that ETags issued before no longer match. */
const RENDERER_VERSION = '1';

/** Which representations the client takes (PS3.18 §8.7.4, negotiated by the route). */
export interface RenderedMedia {
  /** The image type of a single-part answer; undefined when only multipart is acceptable. */
  single?: ImageMediaType;
  /** The image type of multipart parts; undefined when multipart is not acceptable. */
  multipart?: ImageMediaType;
  /** Acceptable types for non-image instances (application/pdf, text/html, text/plain, video/…), preferred first. */
  documents: (mediaType: string) => boolean;
  /** Description of what was asked, for 406 messages. */
  asked: string;
}

export interface RenderRequest {
  media: RenderedMedia;
  quality: number;
  window?: Window;
  viewport?: Viewport;
  annotation: AnnotationRequest;
  /** Locale for annotation dates (Accept-Language), or none. */
  locale?: string;
  srgbProfile: boolean;
}

export interface RenderedPart {
  mediaType: string;
  /** The frame a part shows (study and series answers), for its Content-Location. */
  source?: { series: string; instance: string; frame: number };
  body: Buffer;
}

/** What a rendered or thumbnail request answers, for the route to send. */
export type RenderAnswer =
  | { kind: 'single'; mediaType: string; body: Buffer; etag: string; warnings: string[] }
  | { kind: 'stream'; mediaType: string; length: number; body: AsyncIterable<Buffer>; etag: string; warnings: string[] }
  | {
      kind: 'multipart';
      partType: string;
      status: 200 | 206;
      warnings: string[];
      parts: AsyncIterable<RenderedPart>;
      lateWarning: () => string | undefined;
    };

export const etagOf = (key: string): string =>
  `"${createHash('sha1').update(`${RENDERER_VERSION}|${key}`).digest('base64url')}"`;
