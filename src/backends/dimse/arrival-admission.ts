import type { CachedInstance, InstanceCache } from '../../cache/instance-cache.js';
import type { StoredInstance } from '../../cache/instance-store.js';
import type { StoreAdmission, StoreRequest } from '../../dimse-bridge/storage-scp.js';
import { Status } from '../../dicom/status.js';
import type { Logger } from '../../logger.js';
import { ProbeReceiver } from './pacs-probe.js';
import { asArrived, holdIn, inScope, type ActiveRetrievals } from './retrieval.js';

/**
 * Arrivals at the Storage SCP in front of a PACS: which C-STORE is ours to take (the retrieval it belongs to,
 * by Move Originator — our AE title and the C-MOVE's Message ID — or by the listing's SOP Instance UIDs), and,
 * once an admitted instance is durable, its hand-over to the cache and to every retrieval that expects it.
 */
export class ArrivalAdmission {
  /** What the capability probe's C-MOVE asks for, while it runs. */
  private readonly probe: ProbeReceiver;

  constructor(
    private readonly active: ActiveRetrievals,
    private readonly cache: InstanceCache,
    /** Our Storage SCP's AE title: a Move Originator naming another is not ours. */
    private readonly aeTitle: string,
    private readonly log: Logger,
  ) {
    this.probe = new ProbeReceiver(aeTitle);
  }

  /**
   * Admission at the Storage SCP (PS3.4 §B.2.3 statuses). In front of a PACS the cache takes only what a
   * retrieval of ours brings: a C-STORE whose Move Originator (our AE title and a running C-MOVE's Message ID,
   * PS3.7 §9.3.1.1) names it, or, when the PACS does not say, whose SOP Instance UID a running C-MOVE's listing
   * expects. Its dataset must then carry the command's UIDs and lie in that retrieval's scope. Anything else is
   * refused — a calling AE title authenticates nobody (docs/security.md).
   */
  admitStore(request: StoreRequest): StoreAdmission {
    const moves = [...this.active.values()].filter((r) => r.viaStorageScp);
    const originator = request.moveOriginator;
    const named =
      originator && originator.aeTitle === this.aeTitle
        ? moves.find((r) => r.moveMessageId === originator.messageId)
        : undefined;
    const candidates = named ? [named] : moves.filter((r) => !r.expected || r.expected.has(request.sopInstanceUid));
    // The probe's C-MOVE names no retrieval of ours; its one instance still reaches any retrieval expecting it.
    const probe = named ? undefined : this.probe.admit(request.sopInstanceUid, (stored) => this.stored(stored));
    if (probe) return probe;
    if (candidates.length === 0)
      return {
        refusal: { status: Status.NotAuthorized, comment: 'no retrieval of this gateway expects this instance' },
      };
    return {
      verify: async (arrived) => {
        // Without the originator, the UID must be listed: wait for listings still running (bounded by the retrieval).
        if (!named) await Promise.all(candidates.map((r) => r.listed));
        const belongs = candidates.some(
          (r) =>
            inScope(r.scope, asArrived(arrived)) &&
            (named !== undefined || r.expected?.get(arrived.sopInstanceUid)?.series === arrived.seriesInstanceUid),
        );
        return belongs
          ? undefined
          : {
              status: Status.NotAuthorized,
              comment: 'the instance is not in the scope of any retrieval of this gateway',
            };
      },
      stored: (stored) => this.stored(stored),
    };
  }

  /**
   * Our Storage SCP lent to the capability probe's C-MOVE (pacs-probe.ts): it admits the one instance the probe
   * asks for while the probe runs, notes the Move Originator its C-STORE carried, and caches it like any other.
   */
  probeReceiver(): ProbeReceiver {
    return this.probe;
  }

  /** An instance we admitted is durable on disk: indexed, and handed to the retrievals that expect it. */
  stored(stored: StoredInstance & { moveOriginator?: { aeTitle: string; messageId: number } }): void {
    let cached: CachedInstance;
    try {
      cached = this.cache.add(stored);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, path: stored.path }, 'stored instance could not be indexed');
      return;
    }
    for (const r of this.active.values()) {
      const byOriginator =
        stored.moveOriginator !== undefined &&
        r.moveMessageId === stored.moveOriginator.messageId &&
        stored.moveOriginator.aeTitle === this.aeTitle;
      if (!byOriginator && !r.expects(cached)) continue;
      if (!r.arrive(cached)) continue;
      if (r.consumers.size === 0) r.earlyPins.push(this.cache.pin(cached.sopInstanceUid));
      for (const c of r.consumers) c.offer(holdIn(this.cache, cached));
    }
    this.cache.evict(); // after the pins: an instance someone waits for is never evicted unread
  }
}
