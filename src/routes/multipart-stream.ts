import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/** A 299 Warning (RFC 9111 §5.5 form, as PS3.18 §8.3.4 uses it). */
export function warningHeader(agent: string, text: string): string {
  // A header value is ASCII here: anything else (a reason quoting a name) becomes '?'.
  return `299 ${agent} "${text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?')}"`;
}

/** Adds 299 Warnings to a reply, beside those already on it (Fastify's `header()` would replace them). */
export function addWarnings(reply: FastifyReply, texts: readonly string[]): void {
  if (!texts.length) return;
  const had = reply.getHeader('warning');
  const before = had === undefined ? [] : [had].flat().map(String);
  void reply.header('warning', [...before, ...texts.map((t) => warningHeader('dicomweb-gateway', t))]);
}

/** One part of a multipart/related response (PS3.18 §8.7.1, RFC 2387). */
export interface Part {
  headers: Record<string, string>;
  /** A promise: a buffer being produced (a frame being read or decoded), counted as in memory. */
  body: Buffer | Promise<Buffer> | AsyncIterable<Buffer>;
  /** Called once the part has been written or abandoned (e.g. unpins a cached file). */
  done?: () => void;
}

export interface StreamOptions {
  /** HTTP status (default 200; 206 when parts are left out, PS3.18 §10.4.3). */
  status?: number;
  contentType: string;
  /** Known before the first byte: sent as Warning headers. */
  warnings: readonly string[];
  /** Asked after the body: a Warning sent as an HTTP trailer (e.g. instances that never arrived). */
  lateWarning?: () => string | undefined;
  /** Called for each buffer once the socket has taken it (or the response was destroyed): it may be reused. */
  onWritten?: (chunk: Buffer) => void;
  /** The body's length when it is known before the first byte: sent as Content-Length instead of chunked. */
  contentLength?: number;
}

/** Bytes the response may hold before we wait for 'drain' (measured best of 64 KiB, 2 MiB, 8 MiB). */
const WRITE_WINDOW = 64 * 1024;

/**
 * Whether the client has gone: an HTTP/1.1 response is destroyed with its socket; an HTTP/2 response (Node's
 * compatibility API) has no `destroyed` of its own, its stream has.
 */
function clientGone(res: ServerResponse): boolean {
  const stream = (res as { stream?: { destroyed: boolean } }).stream;
  return stream ? stream.destroyed : res.destroyed;
}

/**
 * Writes one chunk, and waits for 'drain' when the response holds more than WRITE_WINDOW — backpressure from the
 * socket (HTTP/1.1) or the stream's flow-control window (HTTP/2). Rejects once the client has gone.
 */
export function writeChunk(
  res: ServerResponse,
  chunk: Buffer | string,
  onWritten?: (chunk: Buffer) => void,
): Promise<void> {
  if (clientGone(res)) return Promise.reject(new Error('client connection closed'));
  const accepted = onWritten && typeof chunk !== 'string' ? res.write(chunk, () => onWritten(chunk)) : res.write(chunk);
  // Wait only when the response asked for it (write returned false, so 'drain' will come) and holds more than the
  // window: waiting on a response that never signalled would hang it.
  if (accepted || res.writableLength <= WRITE_WINDOW) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('client connection closed'));
    };
    const cleanup = (): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/**
 * Streams a response body with backpressure once the caller knows the status (the first item is in hand).
 * A failure after the headers cuts the connection — the client sees an incomplete body, never a short one that
 * looks complete — and is logged.
 */
export async function streamResponse(
  reply: FastifyReply,
  options: StreamOptions,
  body: AsyncIterable<Buffer | string>,
): Promise<void> {
  // Headers hooks already set on the reply (CORS, say) go out too: hijacking bypasses Fastify's own sending.
  const headers: Record<string, string | string[]> = { ...pendingHeaders(reply), 'content-type': options.contentType };
  if (options.contentLength !== undefined) headers['content-length'] = String(options.contentLength);
  reply.hijack();
  const res = reply.raw;
  if (options.warnings.length)
    headers.warning = [
      ...[headers.warning ?? []].flat(),
      ...options.warnings.map((w) => warningHeader('dicomweb-gateway', w)),
    ];
  const iterator = body[Symbol.asyncIterator]();
  if (reply.request.method === 'HEAD') {
    // The headers GET would send, no body (RFC 9110 §9.3.2). The body is started and stopped at once, so that
    // everything its generators hold (pinned instances, open files, the retrieval's consumer) is released.
    res.writeHead(options.status ?? 200, headers);
    res.end();
    try {
      await iterator.next();
    } finally {
      await iterator.return?.();
    }
    return;
  }
  if (options.lateWarning && options.contentLength === undefined) headers.trailer = 'Warning';
  res.writeHead(options.status ?? 200, headers);
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      await writeChunk(res, next.value, options.onWritten);
    }
    const late = options.lateWarning?.();
    if (late) res.addTrailers({ warning: warningHeader('dicomweb-gateway', late) });
    res.end();
  } catch (err) {
    reply.log.error({ err }, 'response failed after it started; connection cut');
    await iterator.return?.();
    res.destroy(err as Error);
  }
}

/** The headers set on a Fastify reply so far, for a response written to the raw socket. */
export function pendingHeaders(reply: FastifyReply): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

export const newBoundary = (): string => `dicomweb-${randomBytes(12).toString('hex')}`;

/** The bytes of a multipart/related body: each part framed by the boundary, then the closing delimiter. */
export async function* multipartBody(boundary: string, parts: AsyncIterable<Part>): AsyncGenerator<Buffer | string> {
  let first = true;
  for await (const part of parts) {
    try {
      // The CRLF ending a part belongs to the next delimiter (RFC 2046 §5.1.1): one write per part boundary.
      const head = `${first ? '' : '\r\n'}--${boundary}\r\n${Object.entries(part.headers)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n')}\r\n\r\n`;
      first = false;
      yield head;
      if (Buffer.isBuffer(part.body)) yield part.body;
      else if (part.body instanceof Promise) yield await part.body;
      else yield* part.body;
    } finally {
      part.done?.();
    }
  }
  yield `${first ? '' : '\r\n'}--${boundary}--\r\n`;
}

/** A multipart body read ahead as far as it is in memory and small. */
export interface SizedBody {
  chunks: AsyncIterable<Buffer | string>;
  /** Set when the whole body was read ahead: its length in bytes. */
  length?: number;
}

/**
 * Reads a body ahead while it is within `maxBytes`: when it ends within, its length is known before the first byte
 * (and it goes out with Content-Length); else what was read goes first and the rest is streamed as it comes.
 */
export async function sizedBody(chunks: AsyncIterable<Buffer | string>, maxBytes: number): Promise<SizedBody> {
  const source = chunks[Symbol.asyncIterator]();
  const ahead: (Buffer | string)[] = [];
  let bytes = 0;
  let more = false;
  try {
    for (;;) {
      const r = await source.next();
      if (r.done) break;
      ahead.push(r.value);
      bytes += Buffer.byteLength(r.value);
      if (bytes > maxBytes) {
        more = true;
        break;
      }
    }
  } catch (err) {
    await source.return?.();
    throw err;
  }
  const all = (async function* (): AsyncGenerator<Buffer | string> {
    try {
      yield* ahead.splice(0);
      if (more) for (let r = await source.next(); !r.done; r = await source.next()) yield r.value;
    } finally {
      await source.return?.(); // stopped early (a HEAD, a client gone): the source lets go of what it holds
    }
  })();
  return more ? { chunks: all } : { chunks: all, length: bytes };
}

/**
 * Reads a multipart body ahead while its parts' bodies are buffers (frames read from a file, rendered images) and
 * together within `maxBytes`: when that was the whole body, its length is known before the first byte and it can
 * go out with Content-Length (browsers decode such a response sooner than a chunked one). Anything streamed (a
 * file, an instance still arriving) ends the look-ahead, and the rest is streamed as it comes.
 */
export async function sizedMultipartBody(
  boundary: string,
  parts: AsyncIterable<Part>,
  maxBytes: number,
): Promise<SizedBody> {
  const source = parts[Symbol.asyncIterator]();
  const ahead: Part[] = [];
  let bytes = 0;
  let rest: IteratorYieldResult<Part> | undefined;
  try {
    for (;;) {
      const r = await source.next();
      if (r.done) break;
      const body = r.value.body instanceof Promise ? await r.value.body : r.value.body;
      const part = { ...r.value, body };
      if (!Buffer.isBuffer(body) || bytes + body.length > maxBytes) {
        rest = { done: false, value: part };
        break;
      }
      bytes += body.length;
      ahead.push(part);
    }
  } catch (err) {
    // Before any byte went out: the error is answered as such; what was read ahead is let go.
    for (const part of ahead) part.done?.();
    await source.return?.();
    throw err;
  }
  const all = (async function* (): AsyncGenerator<Part> {
    let given = 0;
    let finished = false;
    try {
      for (; given < ahead.length; given++) yield ahead[given] as Part;
      if (rest) {
        const first = rest.value;
        rest = undefined;
        yield first;
        for (;;) {
          const r = await source.next();
          if (r.done) break;
          yield r.value;
        }
      }
      finished = true;
    } finally {
      // Stopped early (a HEAD, a client gone): let go of what was read ahead and not handed on, and of the source.
      if (!finished) {
        for (const part of ahead.slice(given + 1)) part.done?.();
        rest?.value.done?.();
        await source.return?.();
      }
    }
  })();
  const whole = rest === undefined;
  const body = multipartBody(boundary, all);
  if (!whole) return { chunks: body };
  const chunks: (Buffer | string)[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const length = chunks.reduce((n, c) => n + (typeof c === 'string' ? Buffer.byteLength(c) : c.length), 0);
  return {
    chunks: (async function* () {
      yield* chunks;
    })(),
    length,
  };
}
