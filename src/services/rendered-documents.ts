import { Errors } from '../errors.js';
import { bulkStream } from '../dicom/part10-reader.js';
import { tag, Tags } from '../dicom/tag.js';
import { isVideoSyntax } from '../codecs/transfer-syntaxes.js';
import { structuredReportHtml, structuredReportText } from '../render/non-image.js';
import type { Loaded } from './loaded-instance.js';
import type { RenderAnswer, RenderRequest } from './render-answer.js';

const VIDEO_MEDIA_TYPE: Record<string, string> = {
  '1.2.840.10008.1.2.4.100': 'video/mpeg',
  '1.2.840.10008.1.2.4.100.1': 'video/mpeg',
  '1.2.840.10008.1.2.4.101': 'video/mpeg',
  '1.2.840.10008.1.2.4.101.1': 'video/mpeg',
  '1.2.840.10008.1.2.4.107': 'video/H265',
  '1.2.840.10008.1.2.4.108': 'video/H265',
};
const videoMediaType = (ts: string): string => VIDEO_MEDIA_TYPE[ts] ?? 'video/mp4';

/**
 * Rendered non-image instances (PS3.18 §10.4.1.1.3, Table 8.7.4-1): an Encapsulated PDF as application/pdf, a
 * structured report as HTML or text, a video as its MPEG stream — each when accepted, else 406 naming what it is.
 */
export async function renderedDocument(loaded: Loaded, request: RenderRequest, etag: string): Promise<RenderAnswer> {
  const ds = loaded.header.dataset;
  const accepts = request.media.documents;
  if (loaded.kind === 'pdf') {
    const el = ds.get(tag(0x0042, 0x0011));
    if (el && accepts('application/pdf')) {
      const body = 'bytes' in el ? el.bytes : undefined;
      if (body) return { kind: 'single', mediaType: 'application/pdf', body: trimPdf(body), etag, warnings: [] };
      if ('bulk' in el && !el.bulk.fragments) {
        const bytes = await collect(bulkStream(loaded.header, el.bulk, undefined, 1));
        return { kind: 'single', mediaType: 'application/pdf', body: trimPdf(bytes), etag, warnings: [] };
      }
    }
    throw Errors.notAcceptable(request.media.asked, 'application/pdf (the instance is an Encapsulated PDF)');
  }
  if (loaded.kind === 'sr') {
    if (accepts('text/html'))
      return {
        kind: 'single',
        mediaType: 'text/html; charset=utf-8',
        body: Buffer.from(structuredReportHtml(ds)),
        etag,
        warnings: [],
      };
    if (accepts('text/plain'))
      return {
        kind: 'single',
        mediaType: 'text/plain; charset=utf-8',
        body: Buffer.from(structuredReportText(ds)),
        etag,
        warnings: [],
      };
    throw Errors.notAcceptable(request.media.asked, 'text/html, text/plain (the instance is a structured report)');
  }
  const ts = loaded.header.meta.transferSyntaxUid;
  const pixel = ds.get(Tags.PixelData);
  if (loaded.kind === 'video' || (isVideoSyntax(ts) && pixel)) {
    const type = videoMediaType(ts);
    if (pixel && 'bulk' in pixel && pixel.bulk.fragments && accepts(type)) {
      const fragments = pixel.bulk.fragments.slice(1);
      const length = fragments.reduce((a, f) => a + f.length, 0);
      const header = loaded.header;
      const held = loaded.held;
      const release = held.holdAgain(); // the request's hold ends when this returns; the stream's lasts while it runs
      const body = (async function* () {
        try {
          for (const f of fragments) yield* bulkStream(header, f, undefined, 1);
        } finally {
          release();
        }
      })();
      return { kind: 'stream', mediaType: type, length, body, etag, warnings: [] };
    }
    throw Errors.notAcceptable(request.media.asked, `${type} (the instance is a video)`);
  }
  throw Errors.notAcceptable(
    request.media.asked,
    `no rendered representation: ${loaded.problem ?? 'the instance is not an image'}`,
  );
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** Encapsulated Document values are padded to even length with a NUL (PS3.3 C.24.2.1): drop it after %%EOF. */
function trimPdf(bytes: Buffer): Buffer {
  return bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.subarray(0, bytes.length - 1) : bytes;
}
