import type { Archive } from '../archive/archive.js';
import type { DicomJsonObject } from '../dicom/json-model.js';
import { Errors } from '../errors.js';
import { describeStatus, isStored, isWarningStatus, statusHex } from '../dicom/status.js';
import { CANNOT_UNDERSTAND, PROCESSING_FAILURE, drain, storePart10, type StoreOutcome } from './part10-store.js';
import { part10FromJsonRequest } from './stow-json.js';

/** One part of a STOW-RS request: its media type and its body as it arrives. */
export interface StowPart {
  mediaType: string;
  body: AsyncIterable<Buffer>;
  /** Its Content-Location (a bulk data part of an application/dicom+json request). */
  location?: string;
  /** Already refused, with why (an object of a JSON request that makes no instance). */
  refused?: StoreOutcome;
}

/** The Store Instances Response (PS3.18 §10.5.3) and its HTTP status. */
export interface StowAnswer {
  status: 200 | 202 | 409;
  response: DicomJsonObject;
  /** The SOP Instance UIDs stored (for the audit record). */
  stored: string[];
  /**
   * Why each part failed or was stored with a warning, in words: the Failed SOP Sequence carries only a Failure
   * Reason code (PS3.18 Table 10.5.3-3), so these go out as 299 Warning headers and into the log.
   */
  reasons: string[];
}

/** Parts being made durable at once, beyond the one being read. */
const IN_FLIGHT = 8;

/**
 * STOW-RS (PS3.18 §10.5) into the tenant's archive: each `application/dicom` part is a Part 10 instance, read as
 * it arrives — its File Meta Information names it, its dataset goes on to the archive, which answers with the
 * PS3.4 status (Success only once durable). A bad part fails alone; the request goes on past it.
 */
export class StowService {
  /** `spoolDir`: where the bulk data parts of an application/dicom+json request wait for their instance. */
  constructor(
    private readonly archive: Archive,
    private readonly spoolDir: string,
  ) {}

  /** Instances of the requests answered since start, by outcome (metrics). */
  readonly tallies = { stored: 0, warning: 0, failed: 0 };

  /** Whether this tenant's archive takes instances (the embedded archive does; a PACS behind us, forwarded). */
  get accepts(): boolean {
    return this.archive.storeInstance !== undefined;
  }

  /** `type`: the request's `type` parameter — Part 10 parts, or DICOM JSON metadata with bulk data parts. */
  async store(
    request: AsyncIterable<StowPart>,
    studyUid: string | undefined,
    base: string,
    type: 'application/dicom' | 'application/dicom+json' = 'application/dicom',
  ): Promise<StowAnswer> {
    const parts = type === 'application/dicom+json' ? part10FromJsonRequest(request, this.spoolDir) : request;
    // Parts are pipelined: once a part's body has been read, the next one is read while the archive makes the
    // previous ones durable (their syncs and index commits overlap, and group-commit). The response, sent only when
    // every part has its status, still says Success only for what is durable.
    const pending: Promise<{ outcome: StoreOutcome } | { error: unknown }>[] = [];
    for await (const part of parts) {
      let consumed!: () => void;
      const bodyRead = new Promise<void>((resolve) => {
        consumed = resolve;
      });
      const body = (async function* (): AsyncGenerator<Buffer> {
        try {
          yield* part.body;
        } finally {
          consumed();
        }
      })();
      const settled = this.storePart({ ...part, body }, studyUid).then(
        (outcome) => ({ outcome }),
        (error: unknown) => ({ error }),
      );
      pending.push(settled);
      await Promise.race([bodyRead, settled]);
      if (pending.length > IN_FLIGHT) await pending[pending.length - 1 - IN_FLIGHT]; // at most IN_FLIGHT unsettled
    }
    if (pending.length === 0) throw Errors.badRequest('the STOW-RS request holds no part');
    const outcomes: StoreOutcome[] = [];
    for (const r of await Promise.all(pending)) {
      if ('error' in r) throw r.error;
      outcomes.push(r.outcome);
    }
    // A Warning (Bxxx, PS3.4 §B.2.3) is stored all the same, with its Warning Reason.
    const isWarning = (o: StoreOutcome): boolean => isWarningStatus(o.status.status);
    const stored = outcomes.filter((o) => isStored(o.status.status));
    const failed = outcomes.filter((o) => !stored.includes(o));
    const warned = stored.filter(isWarning).length;
    this.tallies.stored += stored.length - warned;
    this.tallies.warning += warned;
    this.tallies.failed += failed.length;
    // PS3.18 §10.5.3: the Retrieve URL of an instance is its WADO-RS resource, study and series in its path.
    const instanceUrl = (o: StoreOutcome): string =>
      `${base}/studies/${o.studyInstanceUid ?? studyUid ?? ''}/series/${o.seriesInstanceUid ?? ''}/instances/${o.sopInstanceUid}`;
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
    const reasons = outcomes.flatMap((o, i) => {
      if (o.status.status === 0) return [];
      const which = o.sopInstanceUid ? `instance ${o.sopInstanceUid}` : `part ${i + 1}`;
      const what = isWarning(o) ? 'stored with warning' : 'failed';
      return [`${which} ${what} ${statusHex(o.status.status)}: ${o.status.comment || describeStatus(o.status.status)}`];
    });
    return {
      status: failed.length === 0 && !stored.some(isWarning) ? 200 : stored.length ? 202 : 409,
      response,
      stored: stored.map((o) => o.sopInstanceUid),
      reasons,
    };
  }

  private async storePart(part: StowPart, studyUid: string | undefined): Promise<StoreOutcome> {
    if (part.refused) return part.refused;
    const store = this.archive.storeInstance?.bind(this.archive);
    if (!/^application\/dicom\s*(;|$)/i.test(part.mediaType) || !store) {
      await drain(part.body[Symbol.asyncIterator]());
      const comment = store
        ? `a part of type ${part.mediaType || '(none)'} is not application/dicom`
        : 'this archive takes no instances';
      return {
        sopClassUid: '',
        sopInstanceUid: '',
        status: { status: store ? CANNOT_UNDERSTAND : PROCESSING_FAILURE, comment },
      };
    }
    return storePart10(store, part.body, { source: 'STOW-RS', ...(studyUid ? { studyUid } : {}) });
  }
}
