import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Dataset, type DataElement } from '../dicom/dataset.js';
import { elementHeader, writeDataset } from '../dicom/dataset-codec.js';
import { datasetFromDicomJson, DicomJsonError, type BulkValue } from '../dicom/json-to-dataset.js';
import type { DicomJsonObject } from '../dicom/json-model.js';
import { encodeFileMetaHeader } from '../dicom/part10.js';
import { TransferSyntax } from '../dicom/transfer-syntax.js';
import { IMPLEMENTATION, isValidUid } from '../dicom/uid.js';
import { Errors } from '../errors.js';
import { CANNOT_UNDERSTAND, drain } from './part10-store.js';
import type { StowPart } from './stow-service.js';

/** The metadata part is read whole (it holds the attributes, not the pixels): at most this much. */
const MAX_METADATA_BYTES = 16 * 2 ** 20;
const EXPLICIT = { explicitVR: true, littleEndian: true };

/**
 * STOW-RS with `type="application/dicom+json"` (PS3.18 §10.5.1.2, Annex F): the first part is a JSON array of DICOM
 * JSON objects, one per instance; values too large to inline are BulkDataURIs naming later parts by their
 * Content-Location (uncompressed bytes, `application/octet-stream`). Each bulk part is written to a spool file as
 * it arrives; once the body has ended, each object becomes a Part 10 instance in Explicit VR Little Endian, read
 * from those files as it is stored — no instance whole in memory. The parts it yields go on as `application/dicom`
 * parts; an object that cannot be made into one is refused (0xC000) with its reason.
 */
export async function* part10FromJsonRequest(
  parts: AsyncIterable<StowPart>,
  spoolDir: string,
): AsyncGenerator<StowPart> {
  const it = parts[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  if (!/^application\/dicom\+json\s*(;|$)/i.test(first.value.mediaType))
    throw Errors.badRequest(
      `the first part of an application/dicom+json request is its metadata (application/dicom+json), not ${first.value.mediaType}`,
    );
  let objects: DicomJsonObject[];
  try {
    objects = JSON.parse((await readWhole(first.value.body, MAX_METADATA_BYTES)).toString('utf8')) as DicomJsonObject[];
  } catch (err) {
    throw Errors.badRequest(`the metadata part is not a JSON array of DICOM JSON objects: ${(err as Error).message}`);
  }
  if (!Array.isArray(objects)) throw Errors.badRequest('the metadata part is not a JSON array of DICOM JSON objects');
  const dir = path.join(spoolDir, randomUUID());
  mkdirSync(dir, { recursive: true });
  try {
    const bulk = new Map<string, { file: string; bytes: number }>();
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      const location = r.value.location;
      if (!location) {
        await drain(r.value.body[Symbol.asyncIterator]());
        continue; // nothing can refer to it
      }
      const file = path.join(dir, `${bulk.size}.bin`);
      bulk.set(location, { file, bytes: await spool(r.value.body, file) });
    }
    for (const object of objects) yield instanceOf(object, bulk);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function instanceOf(object: DicomJsonObject, bulk: ReadonlyMap<string, { file: string; bytes: number }>): StowPart {
  const sopClassUid = String(object?.['00080016']?.Value?.[0] ?? '');
  const sopInstanceUid = String(object?.['00080018']?.Value?.[0] ?? '');
  const refused = (comment: string): StowPart => ({
    mediaType: 'application/dicom',
    body: empty(),
    refused: { sopClassUid, sopInstanceUid, status: { status: CANNOT_UNDERSTAND, comment } },
  });
  if (!isValidUid(sopClassUid) || !isValidUid(sopInstanceUid))
    return refused('the object has no valid SOP Class UID and SOP Instance UID');
  let converted: { dataset: Dataset; bulk: BulkValue[] };
  try {
    converted = datasetFromDicomJson(object);
  } catch (err) {
    if (err instanceof DicomJsonError || err instanceof RangeError || err instanceof SyntaxError)
      return refused(err.message);
    throw err;
  }
  const resolved = converted.bulk.map((b) => ({ ...b, part: bulk.get(b.uri) }));
  const missing = resolved.find((b) => !b.part);
  if (missing)
    return refused(
      `no part has Content-Location ${missing.uri} (BulkDataURI of ${missing.tag.toString(16).padStart(8, '0')})`,
    );
  const meta = encodeFileMetaHeader({
    mediaStorageSopClassUid: sopClassUid,
    mediaStorageSopInstanceUid: sopInstanceUid,
    transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
    implementationClassUid: IMPLEMENTATION.classUid,
    implementationVersionName: IMPLEMENTATION.versionName,
  });
  const { dataset } = converted;
  return {
    mediaType: 'application/dicom',
    body: (async function* (): AsyncGenerator<Buffer> {
      yield meta;
      // Elements in tag order (PS3.5 §7.1): the inline ones written in runs, each bulk value streamed from its file.
      const elements = dataset.sorted();
      let i = 0;
      const runBefore = (limit: number): Buffer | undefined => {
        const run = new Dataset();
        while (i < elements.length && (elements[i]?.tag ?? Infinity) < limit) run.set(elements[i++] as DataElement);
        return run.size ? writeDataset(run, EXPLICIT) : undefined;
      };
      for (const b of resolved.sort((x, y) => x.tag - y.tag)) {
        const before = runBefore(b.tag);
        if (before) yield before;
        const bytes = b.part?.bytes ?? 0;
        yield elementHeader(b.tag, b.vr, bytes + (bytes % 2), true);
        for await (const chunk of createReadStream(b.part?.file ?? '', { highWaterMark: 1 << 20 }))
          yield chunk as Buffer;
        if (bytes % 2) yield Buffer.alloc(1); // even length (PS3.5 §7.1.1)
      }
      const rest = runBefore(Infinity);
      if (rest) yield rest;
    })(),
  };
}

async function* empty(): AsyncGenerator<Buffer> {
  // a refused object has no body
}

async function readWhole(body: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > max) throw new Error(`over ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A part's body written to `file` (stream/promises pipeline: backpressure, and errors propagate); its length. */
async function spool(body: AsyncIterable<Buffer>, file: string): Promise<number> {
  let bytes = 0;
  await pipeline(
    Readable.from(
      (async function* () {
        for await (const chunk of body) {
          bytes += chunk.length;
          yield chunk;
        }
      })(),
    ),
    createWriteStream(file, { flags: 'wx' }),
  );
  return bytes;
}
