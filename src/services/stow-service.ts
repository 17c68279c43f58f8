import type { Archive } from '../archive/archive.js';
import type { DicomJsonObject } from '../dicom/json-model.js';
import { Errors } from '../errors.js';
import { CANNOT_UNDERSTAND, PROCESSING_FAILURE, drain, storePart10, type StoreOutcome } from './part10-store.js';

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

/**
 * STOW-RS (PS3.18 §10.5) into the tenant's archive: each `application/dicom` part is a Part 10 instance, read as
 * it arrives — its File Meta Information names it, its dataset goes on to the archive, which answers with the
 * PS3.4 status (Success only once durable). A bad part fails alone; the request goes on past it.
 */
export class StowService {
  constructor(private readonly archive: Archive) {}

  /** Whether this tenant's archive takes instances (the embedded archive does; a PACS behind us, forwarded). */
  get accepts(): boolean {
    return this.archive.storeInstance !== undefined;
  }

  async store(parts: AsyncIterable<StowPart>, studyUid: string | undefined, base: string): Promise<StowAnswer> {
    const outcomes: StoreOutcome[] = [];
    let seen = 0;
    for await (const part of parts) {
      seen++;
      outcomes.push(await this.storePart(part, studyUid));
    }
    if (seen === 0) throw Errors.badRequest('the STOW-RS request holds no part');
    // A Warning (Bxxx, PS3.4 §B.2.3) is stored all the same, with its Warning Reason.
    const isWarning = (o: StoreOutcome): boolean => (o.status.status & 0xf000) === 0xb000;
    const stored = outcomes.filter((o) => o.status.status === 0 || isWarning(o));
    const failed = outcomes.filter((o) => !stored.includes(o));
    const instanceUrl = (o: StoreOutcome): string => `${base}/studies/${o.studyInstanceUid ?? studyUid ?? ''}/instances/${o.sopInstanceUid}`;
    const response: DicomJsonObject = {};
    if (studyUid) response['00081190'] = { vr: 'UR', Value: [`${base}/studies/${studyUid}`] };
    if (stored.length) {
      response['00081199'] = {
        vr: 'SQ',
        Value: stored.map((o) => ({
          '00081150': { vr: 'UI', Value: [o.sopClassUid] },
          '00081155': { vr: 'UI', Value: [o.sopInstanceUid] },
          '00081190': { vr: 'UR', Value: [instanceUrl(o)] },
          ...(isWarning(o) ? { '00081196': { vr: 'US', Value: [o.status.status] } } : {}),
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
    // PS3.18 §10.5.3: all stored 200; some stored, or stored with warnings, 202; none 409.
    return { status: failed.length === 0 && !stored.some(isWarning) ? 200 : stored.length ? 202 : 409, response, stored: stored.map((o) => o.sopInstanceUid) };
  }

  private async storePart(part: StowPart, studyUid: string | undefined): Promise<StoreOutcome> {
    const store = this.archive.storeInstance?.bind(this.archive);
    if (!/^application\/dicom\s*(;|$)/i.test(part.mediaType) || !store) {
      await drain(part.body[Symbol.asyncIterator]());
      return { sopClassUid: '', sopInstanceUid: '', status: { status: store ? CANNOT_UNDERSTAND : PROCESSING_FAILURE } };
    }
    return storePart10(store, part.body, { source: 'STOW-RS', ...(studyUid ? { studyUid } : {}) });
  }
}
