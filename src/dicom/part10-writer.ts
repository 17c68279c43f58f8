import { elementHeader, delimiter, wordSizeOf } from './dataset-codec.js';
import type { DataElement, Dataset } from './dataset.js';
import { bulkStream, type StoredHeader } from './part10-reader.js';
import { elementOf, groupOf, Tags, type Tag } from './tag.js';
import type { VR } from './vr.js';

const UNDEFINED_LENGTH = 0xffffffff;
/** Small elements are gathered into writes of about this size. */
const BATCH = 64 * 1024;

/** A value written in place of a stored one: its VR, its length (or undefined length) and its bytes. */
export interface ReplacementValue {
  vr: VR;
  /** Bytes of the value, or 'undefined' for encapsulated pixel data (items and a sequence delimiter follow). */
  length: number | 'undefined';
  body: AsyncIterable<Buffer>;
}

export interface WriteOptions {
  explicitVR: boolean;
  /** Values to write instead of the stored ones (e.g. Pixel Data in another transfer syntax). */
  replace?: ReadonlyMap<Tag, ReplacementValue>;
}

/**
 * Streams a stored dataset, little endian, in explicit or implicit VR (PS3.5 §7). Values left in the stored
 * file (BulkRef) are read from it as they are written, byte-swapped when the file is big endian, so memory holds
 * at most one batch. Group Length elements are dropped: they would no longer be right (PS3.5 §7.2, retired).
 * Sequences and items are written with undefined length.
 */
export async function* writeStoredDataset(
  header: StoredHeader,
  ds: Dataset,
  options: WriteOptions,
): AsyncGenerator<Buffer> {
  const batch: Buffer[] = [];
  let batched = 0;
  const take = (b: Buffer): Buffer[] => {
    batch.push(b);
    batched += b.length;
    if (batched < BATCH) return [];
    batched = 0;
    return [Buffer.concat(batch.splice(0))];
  };
  const flush = (): Buffer[] => {
    batched = 0;
    return batch.length ? [Buffer.concat(batch.splice(0))] : [];
  };

  async function* item(items: Dataset): AsyncGenerator<Buffer> {
    for (const el of items.sorted()) {
      if (elementOf(el.tag) === 0x0000 && groupOf(el.tag) !== 0x0002) continue;
      const replacement = options.replace?.get(el.tag);
      if (replacement) {
        yield* take(
          elementHeader(
            el.tag,
            replacement.vr,
            replacement.length === 'undefined' ? UNDEFINED_LENGTH : replacement.length,
            options.explicitVR,
          ),
        );
        yield* flush();
        yield* replacement.body;
        continue;
      }
      yield* element(el);
    }
  }

  async function* element(el: DataElement): AsyncGenerator<Buffer> {
    if (el.vr === 'SQ') {
      yield* take(elementHeader(el.tag, 'SQ', UNDEFINED_LENGTH, options.explicitVR));
      for (const child of el.items) {
        yield* take(delimiter(Tags.Item, UNDEFINED_LENGTH));
        yield* item(child);
        yield* take(delimiter(Tags.ItemDelimitation, 0));
      }
      yield* take(delimiter(Tags.SequenceDelimitation, 0));
      return;
    }
    if ('bytes' in el) {
      yield* take(elementHeader(el.tag, el.vr, el.bytes.length, options.explicitVR));
      yield* take(el.bytes);
      return;
    }
    if (el.bulk.fragments) {
      // Encapsulated data kept as stored (e.g. an icon image in its own syntax): items copied one by one.
      yield* take(elementHeader(el.tag, el.vr, UNDEFINED_LENGTH, options.explicitVR));
      for (const f of el.bulk.fragments) {
        yield* take(delimiter(Tags.Item, f.length));
        yield* flush();
        yield* bulkStream(header, f, undefined, 1);
      }
      yield* take(delimiter(Tags.SequenceDelimitation, 0));
      return;
    }
    yield* take(elementHeader(el.tag, el.vr, el.bulk.length, options.explicitVR));
    yield* flush();
    yield* bulkStream(header, el.bulk, undefined, wordSizeOf(el.vr));
  }

  yield* item(ds);
  yield* flush();
}
