import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { QidoSearch } from '../services/qido-service.js';
import type { DicomJsonObject } from '../dicom/json-model.js';
import { toNativeDicomXml } from '../dicom/xml-model.js';

export type SearchFormat = 'json' | 'xml';

/** A 299 Warning (RFC 9111 §5.5 form, as PS3.18 §8.3.4 uses it). */
export function warningHeader(agent: string, text: string): string {
  return `299 ${agent} "${text.replace(/["\\]/g, "'")}"`;
}

/**
 * Sends a QIDO-RS result. Headers wait until the search has shown how it ends — offset+limit+1 matches read
 * (truncated: a 299 Warning says so), the C-FIND finished, or `holdMs` passed — then matches stream as they
 * arrive, with backpressure: a slow client stops our reading, which stops reading the PACS.
 * A failure before the headers is thrown (the error handler answers 502/503/504); after them the connection
 * is cut so the client cannot take a short answer for a complete one.
 */
export async function sendSearch(reply: FastifyReply, search: QidoSearch, format: SearchFormat, holdMs: number, agent: string): Promise<void> {
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
        const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), Math.max(deadline - Date.now(), 0)); });
        r = await Promise.race([pending, timeout]);
        clearTimeout(timer);
      }
      if (r === 'timeout') break;
      pending = undefined;
      if (r.done) { finished = true; break; }
      held.push(r.value);
    }
  } catch (err) {
    await it.return();
    throw err;
  }

  const warnings = [...search.warnings];
  if (search.truncated) warnings.push('there are more matches than this page holds; request the next page with a larger offset');
  if (warnings.length) void reply.header('warning', warnings.map((w) => warningHeader(agent, w)));

  const boundary = `dicomweb-${randomBytes(12).toString('hex')}`;
  void reply.header('content-type', format === 'json' ? 'application/dicom+json' : `multipart/related; type="application/dicom+xml"; boundary=${boundary}`);

  const log = reply.log;
  async function* body(): AsyncGenerator<string> {
    let count = 0;
    const item = (json: DicomJsonObject): string => {
      count++;
      if (format === 'json') return (count === 1 ? '[' : ',') + JSON.stringify(json);
      return `--${boundary}\r\nContent-Type: application/dicom+xml; charset=utf-8\r\n\r\n${toNativeDicomXml(json)}\r\n`;
    };
    try {
      for (const json of held.splice(0)) yield item(json);
      if (!finished) {
        if (pending) {
          const r = await pending;
          if (!r.done) {
            yield item(r.value);
            for await (const json of it) yield item(json);
          }
        } else {
          for await (const json of it) yield item(json);
        }
      }
    } catch (err) {
      log.error({ err }, 'QIDO-RS search failed after the response started; cutting the connection');
      throw err;
    } finally {
      await it.return();
    }
    if (search.truncated && !warnings.some((w) => w.startsWith('there are more'))) {
      log.warn({ matches: count }, 'QIDO-RS result was truncated after the headers were sent; no Warning could be added');
    }
    if (format === 'json') yield count === 0 ? '[]' : ']';
    else yield `--${boundary}--\r\n`;
  }
  return reply.send(Readable.from(body(), { objectMode: false }));
}
