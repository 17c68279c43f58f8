import type { IncomingDataset, StoreStatus } from '../archive/archive.js';
import { readDataset } from '../dicom/dataset-codec.js';
import { tag } from '../dicom/tag.js';
import { isValidUid } from '../dicom/uid.js';

import { Status } from '../dicom/status.js';

/** Failure Reason values (PS3.18 Table 10.5.3-2, PS3.4 §B.2.3). */
export const CANNOT_UNDERSTAND = Status.UnableToProcess;
export const DOES_NOT_MATCH = Status.IdentifierDoesNotMatchSOPClass;
export const PROCESSING_FAILURE = Status.ProcessingFailure;
/** A File Meta Information group longer than this is not one (it holds a few UIDs). */
const MAX_META_BYTES = 64 * 1024;

/** What became of one Part 10 instance offered to an archive. */
export interface StoreOutcome {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  /** A failure's or warning's reason in words (`status.comment`), for the response and the log. */
  status: StoreStatus;
}

export type StoreInstance = (incoming: IncomingDataset) => Promise<StoreStatus>;

/**
 * Stores one Part 10 instance read as it arrives (STOW-RS parts, imported files, the samples): its File Meta
 * Information (PS3.10 §7.1) names it, its dataset goes on to `store`, which answers with the PS3.4 status. What
 * does not parse as Part 10 is refused 0xC000; with `studyUid`, an instance of another study 0xA900
 * (PS3.18 §10.5.1). The body is always read to its end.
 */
export async function storePart10(
  store: StoreInstance,
  body: AsyncIterable<Buffer>,
  options: { source: string; studyUid?: string },
): Promise<StoreOutcome> {
  const it = body[Symbol.asyncIterator]();
  const failure = async (
    comment: string,
    ids: { sopClassUid?: string; sopInstanceUid?: string } = {},
  ): Promise<StoreOutcome> => {
    await drain(it);
    return {
      sopClassUid: ids.sopClassUid ?? '',
      sopInstanceUid: ids.sopInstanceUid ?? '',
      status: { status: CANNOT_UNDERSTAND, comment },
    };
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
  if (!(await want(144)))
    return failure(`not a DICOM Part 10 file: ${head.length} bytes, shorter than the preamble and its "DICM" prefix`);
  if (head.toString('latin1', 128, 132) !== 'DICM')
    return failure('not a DICOM Part 10 file: no "DICM" prefix after the 128-byte preamble (PS3.10 §7.1)');
  if (head.readUInt16LE(132) !== 0x0002 || head.readUInt16LE(134) !== 0x0000)
    return failure(
      'not a DICOM Part 10 file: the File Meta Information does not start with its group length (0002,0000)',
    );
  const metaEnd = 144 + head.readUInt32LE(140);
  if (metaEnd > MAX_META_BYTES)
    return failure(`the File Meta Information group length says ${metaEnd - 144} bytes, more than such a group holds`);
  if (!(await want(metaEnd))) return failure('the file ends inside its File Meta Information');
  let meta;
  try {
    meta = readDataset(head.subarray(132, metaEnd), { explicitVR: true, littleEndian: true });
  } catch (err) {
    return failure(`the File Meta Information does not parse: ${(err as Error).message}`);
  }
  const ids = {
    sopClassUid: meta.getString(tag(0x0002, 0x0002)) ?? '',
    sopInstanceUid: meta.getString(tag(0x0002, 0x0003)) ?? '',
  };
  const transferSyntaxUid = meta.getString(tag(0x0002, 0x0010)) ?? '';
  const badUid = (
    [
      ['Media Storage SOP Class UID', ids.sopClassUid],
      ['Media Storage SOP Instance UID', ids.sopInstanceUid],
      ['Transfer Syntax UID', transferSyntaxUid],
    ] as const
  ).find(([, uid]) => !isValidUid(uid));
  if (badUid)
    return failure(
      `the File Meta Information's ${badUid[0]} is ${badUid[1] ? `not a valid UID ("${badUid[1]}")` : 'missing'}`,
      ids,
    );
  const rest = head.subarray(metaEnd);
  const dataset = (async function* (): AsyncGenerator<Buffer> {
    if (rest.length) yield rest;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  let arrivedUids: { studyInstanceUid: string; seriesInstanceUid: string } | undefined;
  const { studyUid } = options;
  const status = await store({
    ...ids,
    transferSyntaxUid,
    source: options.source,
    dataset,
    verify: (arrived) => {
      arrivedUids = { studyInstanceUid: arrived.studyInstanceUid, seriesInstanceUid: arrived.seriesInstanceUid };
      return studyUid && arrived.studyInstanceUid !== studyUid
        ? {
            status: DOES_NOT_MATCH,
            comment: `the instance belongs to study ${arrived.studyInstanceUid}, not ${studyUid}`,
          }
        : undefined;
    },
  });
  await drain(it);
  return { ...ids, ...arrivedUids, status };
}

export async function drain(it: AsyncIterator<Buffer>): Promise<void> {
  for (;;) if ((await it.next()).done) return;
}
