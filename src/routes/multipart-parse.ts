import { Errors } from '../errors.js';

/** One part of a multipart/related request body: its headers (lower-case names) and its body, read as it arrives. */
export interface IncomingPart {
  headers: Record<string, string>;
  body: AsyncIterable<Buffer>;
}

const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
/** Longest header section of one part. */
const MAX_PART_HEADER_BYTES = 16 * 1024;

/**
 * The parts of a multipart/related body (RFC 2046 §5.1, RFC 2387) as a stream: no part, and no whole body, is held
 * in memory — each part's body is handed on chunk by chunk and must be read (or is skipped) before the next part.
 * A body that is not multipart with this boundary throws DWG_BAD_REQUEST.
 */
export async function* multipartParts(source: AsyncIterable<Buffer>, boundary: string): AsyncGenerator<IncomingPart> {
  const it = source[Symbol.asyncIterator]();
  // With a CRLF in front, every delimiter (the first one too) is CRLF "--" boundary.
  let buf: Buffer = Buffer.from('\r\n');
  let ended = false;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const fill = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await it.next();
    if (r.done) {
      ended = true;
      return false;
    }
    buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
    return true;
  };
  const bad = (why: string) => Errors.badRequest(`multipart/related body: ${why}`);

  // Preamble up to the first delimiter.
  for (;;) {
    const at = buf.indexOf(delimiter);
    if (at >= 0) {
      buf = buf.subarray(at + delimiter.length);
      break;
    }
    if (buf.length > delimiter.length) buf = buf.subarray(buf.length - delimiter.length);
    if (!(await fill())) throw bad(`no boundary "${boundary}" in the body`);
  }
  for (;;) {
    while (buf.length < 2) if (!(await fill())) throw bad('it ends after a boundary');
    if (buf[0] === 0x2d && buf[1] === 0x2d) return; // "--": the close delimiter
    // Transport padding, then the CRLF ending the delimiter line.
    let lineEnd = buf.indexOf(CRLF);
    while (lineEnd < 0) {
      if (buf.length > 256 || !(await fill())) throw bad('a boundary line does not end');
      lineEnd = buf.indexOf(CRLF);
    }
    buf = buf.subarray(lineEnd);
    // Headers: CRLF header-lines CRLF CRLF (an empty header section is CRLF CRLF).
    let headerEnd = buf.indexOf(HEADERS_END);
    while (headerEnd < 0) {
      if (buf.length > MAX_PART_HEADER_BYTES) throw bad(`a part's headers exceed ${MAX_PART_HEADER_BYTES} bytes`);
      if (!(await fill())) throw bad("it ends inside a part's headers");
      headerEnd = buf.indexOf(HEADERS_END);
    }
    const headers: Record<string, string> = {};
    for (const line of buf.subarray(2, headerEnd).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    buf = buf.subarray(headerEnd + HEADERS_END.length);
    let finished = false;
    const body = async function* (): AsyncGenerator<Buffer> {
      for (;;) {
        const at = buf.indexOf(delimiter);
        if (at >= 0) {
          if (at > 0) yield buf.subarray(0, at);
          buf = buf.subarray(at + delimiter.length);
          finished = true;
          return;
        }
        // Keep what could be the start of the delimiter; hand on the rest.
        const keep = delimiter.length - 1;
        if (buf.length > keep) {
          const out = buf.subarray(0, buf.length - keep);
          buf = buf.subarray(buf.length - keep);
          yield out;
        }
        if (!(await fill())) throw bad('it ends inside a part (no closing boundary)');
      }
    };
    yield { headers, body: body() };
    // A part its consumer did not read to the end (or stopped reading) is skipped to its delimiter.
    if (!finished)
      for await (const _ of body()) {
        /* skip */
      }
  }
}
