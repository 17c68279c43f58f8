import type { IncomingDataset, StoreStatus } from '../archive/archive.js';
import { readDataset } from '../dicom/dataset-codec.js';
import { tag } from '../dicom/tag.js';
import { isValidUid } from '../dicom/uid.js';

/** Failure Reason values (PS3.18 Table 10.5.3-2, PS3.4 §B.2.3). */
export const CANNOT_UNDERSTAND = 0xc000;
export const DOES_NOT_MATCH = 0xa900;
export const PROCESSING_FAILURE = 0x0110;
/** A File Meta Information group longer than this is not one (it holds a few UIDs). */
const MAX_META_BYTES = 64 * 1024;

/** What became of one Part 10 instance offered to an archive. */
export interface StoreOutcome {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid?: string;
  status: StoreStatus;
}

export type StoreInstance = (incoming: IncomingDataset) => Promise<StoreStatus>;

/**
 * Stores one Part 10 instance read as it arrives (STOW-RS parts, imported files, the samples): its File Meta
 * Information (PS3.10 §7.1) names it, its dataset goes on to `store`, which answers with the PS3.4 status. What
 * does not parse as Part 10 is refused 0xC000; with `studyUid`, an instance of another study 0xA900
 * (PS3.18 §10.5.1). The body is always read to its end.
 */
export async function storePart10(store: StoreInstance, body: AsyncIterable<Buffer>, options: { source: string; studyUid?: string }): Promise<StoreOutcome> {
  const it = body[Symbol.asyncIterator]();
  const failure = async (status: number, ids: { sopClassUid?: string; sopInstanceUid?: string } = {}): Promise<StoreOutcome> => {
    await drain(it);
    return { sopClassUid: ids.sopClassUid ?? '', sopInstanceUid: ids.sopInstanceUid ?? '', status: { status } };
  };
  // The preamble, "DICM" and the meta group (its length is its first element).
  let head = Buffer.alloc(0);
  const want = async (n: number): Promise<boolean> => {
    while (head.length < n) {
      const r = await it.next();
      if (r.done) return false;
      head = Buffer.concat([head, r.value]);
    }
    return true;
  };
  if (!(await want(144)) || head.toString('latin1', 128, 132) !== 'DICM' || head.readUInt16LE(132) !== 0x0002 || head.readUInt16LE(134) !== 0x0000) return failure(CANNOT_UNDERSTAND);
  const metaEnd = 144 + head.readUInt32LE(140);
  if (metaEnd > MAX_META_BYTES || !(await want(metaEnd))) return failure(CANNOT_UNDERSTAND);
  let meta;
  try {
    meta = readDataset(head.subarray(132, metaEnd), { explicitVR: true, littleEndian: true });
  } catch {
    return failure(CANNOT_UNDERSTAND);
  }
  const ids = {
    sopClassUid: meta.getString(tag(0x0002, 0x0002)) ?? '',
    sopInstanceUid: meta.getString(tag(0x0002, 0x0003)) ?? '',
  };
  const transferSyntaxUid = meta.getString(tag(0x0002, 0x0010)) ?? '';
  if (!isValidUid(ids.sopClassUid) || !isValidUid(ids.sopInstanceUid) || !isValidUid(transferSyntaxUid)) return failure(CANNOT_UNDERSTAND, ids);
  const rest = head.subarray(metaEnd);
  const dataset = (async function* (): AsyncGenerator<Buffer> {
    if (rest.length) yield rest;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  let studyOfInstance: string | undefined;
  const { studyUid } = options;
  const status = await store({
    ...ids, transferSyntaxUid, source: options.source, dataset,
    verify: (arrived) => {
      studyOfInstance = arrived.studyInstanceUid;
      return studyUid && arrived.studyInstanceUid !== studyUid
        ? { status: DOES_NOT_MATCH, comment: `the instance belongs to study ${arrived.studyInstanceUid}, not ${studyUid}` }
        : undefined;
    },
  });
  await drain(it);
  return { ...ids, ...(studyOfInstance ? { studyInstanceUid: studyOfInstance } : {}), status };
}

export async function drain(it: AsyncIterator<Buffer>): Promise<void> {
  for (;;) if ((await it.next()).done) return;
}
