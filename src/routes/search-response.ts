import type { FastifyReply } from 'fastify';
import { streamResponse, multipartBody, newBoundary, type Part } from './multipart-stream.js';
import type { QidoSearch } from '../services/qido-service.js';
import type { DicomJsonObject } from '../dicom/json-model.js';
import { toNativeDicomXml } from '../dicom/xml-model.js';

export type SearchFormat = 'json' | 'xml';

/**
 * Sends a QIDO-RS result. Headers wait until the search has shown how it ends — offset+limit+1 matches read
 * (truncated: a 299 Warning says so), the C-FIND finished, or `holdMs` passed — and, over several archives, until
 * each answered or missed its deadline (its Warning is in the headers); then matches stream as they
 * arrive, with backpressure: a slow client stops our reading, which stops reading the PACS.
 * A failure before the headers is thrown (the error handler answers 502/503/504); after them the connection
 * is cut so the client cannot take a short answer for a complete one.
 */
export async function sendSearch(
  reply: FastifyReply,
  search: QidoSearch,
  format: SearchFormat,
  holdMs: number,
): Promise<void> {
  const it = search.matches;
  const held: DicomJsonObject[] = [];
  let pending: Promise<IteratorResult<DicomJsonObject>> | undefined;
  let finished = false;
  const deadline = Date.now() + holdMs;
  try {
    for (;;) {
      pending ??= it.next();
      let r: IteratorResult<DicomJsonObject> | 'timeout';
      if (held.length === 0) {
        r = await pending; // the status depends on the first response: always wait for it
      } else {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), Math.max(deadline - Date.now(), 0));
        });
        r = await Promise.race([pending, timeout]);
        clearTimeout(timer);
      }
      if (r === 'timeout') break;
      pending = undefined;
      if (r.done) {
        finished = true;
        break;
      }
      held.push(r.value);
    }
  } catch (err) {
    await it.return();
    throw err;
  }

  // Several archives: every one answered or was left at its deadline, so each failed one is named.
  if (search.settled) await search.settled;
  const warnings = [...search.warnings];
  if (search.truncated) warnings.push(TRUNCATED);
  const log = reply.log;
  const remaining = async function* (): AsyncGenerator<DicomJsonObject> {
    if (finished) return;
    if (pending) {
      const r = await pending;
      if (r.done) return;
      yield r.value;
    }
    yield* { [Symbol.asyncIterator]: () => it };
  };
  async function* matches(): AsyncGenerator<DicomJsonObject> {
    try {
      yield* held.splice(0);
      yield* remaining();
    } finally {
      await it.return();
    }
    if (search.truncated && !warnings.includes(TRUNCATED)) {
      log.warn('QIDO-RS result was truncated after the headers were sent; no Warning could be added');
    }
  }
  if (format === 'json') {
    await streamResponse(reply, { contentType: 'application/dicom+json', warnings }, jsonArray(matches()));
    return;
  }
  const boundary = newBoundary();
  const parts = (async function* (): AsyncGenerator<Part> {
    for await (const json of matches())
      yield {
        headers: { 'Content-Type': 'application/dicom+xml; charset=utf-8' },
        body: Buffer.from(toNativeDicomXml(json)),
      };
  })();
  await streamResponse(
    reply,
    { contentType: `multipart/related; type="application/dicom+xml"; boundary=${boundary}`, warnings },
    multipartBody(boundary, parts),
  );
}

const TRUNCATED = 'there are more matches than this page holds; request the next page with a larger offset';

/** A JSON array written element by element ("[]" when empty). */
export async function* jsonArray(items: AsyncIterable<unknown>): AsyncGenerator<string> {
  let first = true;
  for await (const item of items) {
    yield `${first ? '[' : ','}${JSON.stringify(item)}`;
    first = false;
  }
  yield first ? '[]' : ']';
}
