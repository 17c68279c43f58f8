import type { Archive, StoreStatus } from '../archive/archive.js';
import { readDataset } from '../dicom/dataset-codec.js';
import type { DicomJsonObject } from '../dicom/json-model.js';
import { tag } from '../dicom/tag.js';
import { isValidUid } from '../dicom/uid.js';
import { Errors } from '../errors.js';

/** One part of a STOW-RS request: its media type and its body as it arrives. */
export interface StowPart {
  mediaType: string;
  body: AsyncIterable<Buffer>;
}

/** The Store Instances Response (PS3.18 §10.5.3) and its HTTP status. */
export interface StowAnswer {
  status: 200 | 202 | 409;
  response: DicomJsonObject;
  /** The SOP Instance UIDs stored (for the audit record). */
  stored: string[];
}

/** Failure Reason values (PS3.18 Table 10.5.3-2, PS3.4 §B.2.3). */
const CANNOT_UNDERSTAND = 0xc000;
const DOES_NOT_MATCH = 0xa900;
const PROCESSING_FAILURE = 0x0110;
/** A File Meta Information group longer than this is not one (it holds a few UIDs). */
const MAX_META_BYTES = 64 * 1024;

interface Outcome {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid?: string;
  status: StoreStatus;
}

/**
 * STOW-RS (PS3.18 §10.5) into the tenant's archive: each `application/dicom` part is a Part 10 instance, read as
 * it arrives — its File Meta Information names it, its dataset goes on to the archive, which answers with the
 * PS3.4 status (Success only once durable). A bad part fails alone; the request goes on past it.
 */
export class StowService {
  constructor(private readonly archive: Archive) {}

  /** Whether this tenant's archive takes instances (the embedded archive does; a PACS behind us not yet). */
  get accepts(): boolean {
    return this.archive.storeInstance !== undefined;
  }

  async store(parts: AsyncIterable<StowPart>, studyUid: string | undefined, base: string): Promise<StowAnswer> {
    const outcomes: Outcome[] = [];
    let seen = 0;
    for await (const part of parts) {
      seen++;
      outcomes.push(await this.storePart(part, studyUid));
    }
    if (seen === 0) throw Errors.badRequest('the STOW-RS request holds no part');
    const stored = outcomes.filter((o) => o.status.status === 0);
    const failed = outcomes.filter((o) => o.status.status !== 0);
    const instanceUrl = (o: Outcome): string => `${base}/studies/${o.studyInstanceUid ?? studyUid ?? ''}/instances/${o.sopInstanceUid}`;
    const response: DicomJsonObject = {};
    if (studyUid) response['00081190'] = { vr: 'UR', Value: [`${base}/studies/${studyUid}`] };
    if (stored.length) {
      response['00081199'] = {
        vr: 'SQ',
        Value: stored.map((o) => ({
          '00081150': { vr: 'UI', Value: [o.sopClassUid] },
          '00081155': { vr: 'UI', Value: [o.sopInstanceUid] },
          '00081190': { vr: 'UR', Value: [instanceUrl(o)] },
        })),
      };
    }
    if (failed.length) {
      response['00081198'] = {
        vr: 'SQ',
        Value: failed.map((o) => ({
          ...(o.sopClassUid ? { '00081150': { vr: 'UI', Value: [o.sopClassUid] } } : {}),
          ...(o.sopInstanceUid ? { '00081155': { vr: 'UI', Value: [o.sopInstanceUid] } } : {}),
          '00081197': { vr: 'US', Value: [o.status.status] },
        })),
      };
    }
    // PS3.18 §10.5.3: all stored 200, some 202, none 409.
    return { status: failed.length === 0 ? 200 : stored.length ? 202 : 409, response, stored: stored.map((o) => o.sopInstanceUid) };
  }

  private async storePart(part: StowPart, studyUid: string | undefined): Promise<Outcome> {
    const store = this.archive.storeInstance?.bind(this.archive);
    const it = part.body[Symbol.asyncIterator]();
    const failure = (status: number, ids: { sopClassUid?: string; sopInstanceUid?: string } = {}): Outcome =>
      ({ sopClassUid: ids.sopClassUid ?? '', sopInstanceUid: ids.sopInstanceUid ?? '', status: { status } });
    if (!/^application\/dicom\s*(;|$)/i.test(part.mediaType) || !store) {
      await drain(it);
      return failure(store ? CANNOT_UNDERSTAND : PROCESSING_FAILURE);
    }
    // The preamble, "DICM" and the meta group (its length is its first element, PS3.10 §7.1).
    let head = Buffer.alloc(0);
    const want = async (n: number): Promise<boolean> => {
      while (head.length < n) {
        const r = await it.next();
        if (r.done) return false;
        head = Buffer.concat([head, r.value]);
      }
      return true;
    };
    if (!(await want(144)) || head.toString('latin1', 128, 132) !== 'DICM' || head.readUInt16LE(132) !== 0x0002 || head.readUInt16LE(134) !== 0x0000) {
      await drain(it);
      return failure(CANNOT_UNDERSTAND);
    }
    const metaEnd = 144 + head.readUInt32LE(140);
    if (metaEnd > MAX_META_BYTES || !(await want(metaEnd))) {
      await drain(it);
      return failure(CANNOT_UNDERSTAND);
    }
    let meta;
    try {
      meta = readDataset(head.subarray(132, metaEnd), { explicitVR: true, littleEndian: true });
    } catch {
      await drain(it);
      return failure(CANNOT_UNDERSTAND);
    }
    const ids = {
      sopClassUid: meta.getString(tag(0x0002, 0x0002)) ?? '',
      sopInstanceUid: meta.getString(tag(0x0002, 0x0003)) ?? '',
    };
    const transferSyntaxUid = meta.getString(tag(0x0002, 0x0010)) ?? '';
    if (!isValidUid(ids.sopClassUid) || !isValidUid(ids.sopInstanceUid) || !isValidUid(transferSyntaxUid)) {
      await drain(it);
      return failure(CANNOT_UNDERSTAND, ids);
    }
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
    const status = await store({
      ...ids, transferSyntaxUid, source: 'STOW-RS', dataset,
      // The path's study, when it names one (PS3.18 §10.5.1): an instance of another study is refused.
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
}

async function drain(it: AsyncIterator<Buffer>): Promise<void> {
  for (;;) if ((await it.next()).done) return;
}
