import type { PacsBackend, RetrieveRequest } from './backend.js';
import { buildIdentifier, type MatchKey } from './qido-service.js';
import type { Dataset } from '../dicom/dataset.js';
import type { InstanceCache, CachedInstance } from '../cache/instance-cache.js';
import type { InstanceStore, StoredInstance } from '../cache/instance-store.js';
import { receiveInstance } from '../cache/instance-receiver.js';
import type { MoveResult, StoreRequestHandler } from '../dimse-bridge/dimse-client.js';
import { Status, statusHex } from '../dimse-bridge/command.js';
import { DimseStatusError, DimseTimeoutError } from '../dimse-bridge/errors.js';
import { Tags } from '../dicom/tag.js';
import { Errors, withDetails } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

/** A study, one of its series, or one instance (PS3.18 §10.4.1 target resources). */
export interface RetrieveScope {
  study: string;
  series?: string;
  instance?: string;
}

interface Listed {
  sop: string;
  series: string;
  sopClassUid?: string;
}

/** One instance handed to a consumer, pinned in the cache until `release()`. */
export interface HeldInstance {
  instance: CachedInstance;
  release(): void;
}

/** The instances of a scope as they become available. */
export interface InstanceStream extends AsyncIterable<HeldInstance> {
  /** True when the whole scope was served from the cache. */
  readonly fromCache: boolean;
  /** Instances the PACS listed that did not arrive (final once iteration ends). */
  readonly missing: number;
  /** Sub-operations the PACS reported as failed. */
  readonly failedSubOperations: number;
}

export interface RetrieveServiceOptions {
  /** A retrieval with no arrival and no response for this long is cancelled and fails (504). */
  idleTimeoutMs: number;
  /** Our Storage SCP as the PACS must know it, for the 0xA801 hint. */
  storageScp: { aeTitle: string; port: number; host: string };
  logger?: Logger;
}

const scopeKey = (s: RetrieveScope): string => [s.study, s.series ?? '', s.instance ?? ''].join('/');

function inScope(scope: RetrieveScope, item: { study?: string; series: string; sop: string }): boolean {
  return (!scope.series || item.series === scope.series) && (!scope.instance || item.sop === scope.instance);
}

/** A consumer of a retrieval: a queue of pinned arrivals it wants, and a way to wake it. */
class Consumer {
  readonly queue: HeldInstance[] = [];
  readonly taken = new Set<string>();
  private wake: (() => void) | undefined;
  constructor(readonly scope: RetrieveScope, readonly wanted: ReadonlySet<string>) {}

  offer(held: HeldInstance): void {
    if (!this.wanted.has(held.instance.sopInstanceUid) || this.taken.has(held.instance.sopInstanceUid)) {
      held.release();
      return;
    }
    this.taken.add(held.instance.sopInstanceUid);
    this.queue.push(held);
    this.signal();
  }

  signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  waitForChange(): Promise<void> {
    return new Promise((resolve) => { this.wake = resolve; });
  }
}

/** One C-MOVE or C-GET in progress, shared by every request it covers (single-flight). */
class Retrieval {
  readonly arrived: CachedInstance[] = [];
  readonly consumers = new Set<Consumer>();
  expected = new Map<string, Listed>();
  moveMessageId: number | undefined;
  /** Called on every arrival: restarts the no-progress deadline. */
  onArrival: (() => void) | undefined;
  done = false;
  error: Error | undefined;
  result: MoveResult | undefined;
  readonly listed: Promise<void>;
  private resolveListed!: () => void;
  private rejectListed!: (e: Error) => void;

  constructor(readonly scope: RetrieveScope) {
    this.listed = new Promise((resolve, reject) => { this.resolveListed = resolve; this.rejectListed = reject; });
    this.listed.catch(() => {});
  }

  setListing(items: Listed[]): void {
    for (const item of items) this.expected.set(item.sop, item);
    this.resolveListed();
  }

  failListing(err: Error): void {
    this.error = err;
    this.done = true;
    this.rejectListed(err);
  }

  covers(scope: RetrieveScope): boolean {
    if (scope.study !== this.scope.study) return false;
    if (!this.scope.series) return true;
    if (scope.series !== this.scope.series) return false;
    return !this.scope.instance || scope.instance === this.scope.instance;
  }

  finish(): void {
    this.done = true;
    for (const c of this.consumers) c.signal();
  }
}

/**
 * WADO-RS retrieval over the PACS (PS3.18 §10.4): lists the scope with C-FIND (an empty scope is a 404 before
 * any byte), serves complete scopes from the cache, otherwise runs one C-MOVE (or C-GET) per scope that every
 * concurrent request covering it shares. Arriving instances — from the Storage SCP or the C-GET association —
 * are matched to waiting requests by Move Originator Message ID or by SOP Instance UID.
 */
export class RetrieveService {
  private readonly active = new Map<string, Retrieval>();
  private readonly log: Logger;

  constructor(
    private readonly backend: PacsBackend,
    private readonly cache: InstanceCache,
    private readonly store: InstanceStore,
    private readonly options: RetrieveServiceOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'retrieve' });
  }

  /** Retrievals running now (for tests and metrics). */
  get activeCount(): number {
    return this.active.size;
  }

  /**
   * The mediator: an instance is durable on disk (from the Storage SCP or a C-GET). Index it and hand it to the
   * retrievals that expect it.
   */
  onStored(stored: StoredInstance & { moveOriginator?: { aeTitle: string; messageId: number } }): void {
    let cached: CachedInstance;
    try {
      cached = this.cache.add(stored);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, path: stored.path }, 'stored instance could not be indexed');
      return;
    }
    let matched = false;
    for (const r of this.active.values()) {
      const byOriginator = stored.moveOriginator !== undefined && r.moveMessageId === stored.moveOriginator.messageId && stored.moveOriginator.aeTitle === this.options.storageScp.aeTitle;
      if (!byOriginator && !r.expected.has(cached.sopInstanceUid)) continue;
      matched = true;
      r.arrived.push(cached);
      r.onArrival?.();
      for (const c of r.consumers) c.offer({ instance: cached, release: this.cache.pin(cached.sopInstanceUid) });
    }
    if (!matched) this.log.info({ sop: cached.sopInstanceUid }, 'instance arrived that no request waits for; cached');
  }

  /** The instances of a scope. Throws 404 when the PACS has none, 5xx when listing fails. */
  async open(scope: RetrieveScope): Promise<InstanceStream> {
    if (scope.instance) {
      const cached = this.cache.get(scope.instance);
      if (cached && cached.studyInstanceUid === scope.study && (!scope.series || cached.seriesInstanceUid === scope.series)) {
        return this.fromCache([cached]);
      }
    } else {
      const complete = this.cache.completeScope(scope);
      if (complete) return this.fromCache(complete);
    }
    let retrieval = [...this.active.values()].find((r) => r.covers(scope));
    if (!retrieval) retrieval = this.start(scope);
    await retrieval.listed;
    const wanted = new Set([...retrieval.expected.values()].filter((l) => inScope(scope, l)).map((l) => l.sop));
    if (wanted.size === 0) throw Errors.notFound(`${describe(scope)} is not known to the PACS`);
    return this.follow(retrieval, scope, wanted);
  }

  private fromCache(instances: CachedInstance[]): InstanceStream {
    const cache = this.cache;
    const state = { missing: 0 };
    return {
      fromCache: true,
      failedSubOperations: 0,
      get missing() { return state.missing; },
      async *[Symbol.asyncIterator]() {
        for (const entry of instances) {
          const live = cache.get(entry.sopInstanceUid);
          if (!live) { state.missing++; continue; }
          yield { instance: live, release: cache.pin(live.sopInstanceUid) };
        }
      },
    };
  }

  private follow(r: Retrieval, scope: RetrieveScope, wanted: Set<string>): InstanceStream {
    const consumer = new Consumer(scope, wanted);
    // What is cached already (from earlier requests, or arrived before this request joined) goes first.
    for (const sop of wanted) {
      const cached = this.cache.get(sop);
      if (cached) consumer.offer({ instance: cached, release: this.cache.pin(sop) });
    }
    r.consumers.add(consumer);
    const state = { missing: 0 };
    return {
      fromCache: false,
      get failedSubOperations() { return r.result?.failed ?? 0; },
      get missing() { return state.missing; },
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            const next = consumer.queue.shift();
            if (next) {
              yield next;
              continue;
            }
            if (r.done) break;
            await consumer.waitForChange();
          }
          state.missing = [...wanted].filter((sop) => !consumer.taken.has(sop)).length;
          if (r.error && (consumer.taken.size === 0 || state.missing > 0)) throw r.error;
        } finally {
          r.consumers.delete(consumer);
          for (const held of consumer.queue.splice(0)) held.release();
        }
      },
    };
  }

  private start(scope: RetrieveScope): Retrieval {
    const r = new Retrieval(scope);
    const key = scopeKey(scope);
    this.active.set(key, r);
    void this.run(r).finally(() => {
      this.active.delete(key);
      r.finish();
    });
    return r;
  }

  private async run(r: Retrieval): Promise<void> {
    let listing: Listed[];
    try {
      listing = await this.list(r.scope);
    } catch (err) {
      r.failListing(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    r.setListing(listing);
    if (listing.length === 0) return;

    const controller = new AbortController();
    let timedOut = false;
    let watchdog: NodeJS.Timeout | undefined;
    const progress = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        timedOut = true;
        this.log.warn({ scope: r.scope, arrived: r.arrived.length, expected: r.expected.size }, 'retrieval made no progress; cancelling');
        controller.abort();
      }, this.options.idleTimeoutMs);
    };
    r.onArrival = progress;
    progress();
    const request: RetrieveRequest = {
      level: r.scope.instance ? 'IMAGE' : r.scope.series ? 'SERIES' : 'STUDY',
      studyUid: r.scope.study,
      ...(r.scope.series ? { seriesUid: r.scope.series } : {}),
      ...(r.scope.instance ? { sopInstanceUid: r.scope.instance } : {}),
      sopClassUids: [...new Set(listing.map((l) => l.sopClassUid).filter((c): c is string => !!c))],
    };
    const cleanups = new Set<Promise<void>>();
    const receive: StoreRequestHandler = (info) => {
      progress();
      const receiver = receiveInstance(this.store, { ...info, sourceAeTitle: info.callingAeTitle });
      return {
        write: (chunk) => receiver.write(chunk),
        abort: (reason) => {
          const done = receiver.abort(reason);
          cleanups.add(done);
          return done;
        },
        finish: async () => {
          const outcome = await receiver.finish();
          if ('stored' in outcome) this.onStored(outcome.stored);
          progress();
          return outcome;
        },
      };
    };
    const started = Date.now();
    try {
      r.result = await this.backend.retrieve(request, {
        onStarted: (messageId) => { r.moveMessageId = messageId; },
        onProgress: progress,
        receive,
        signal: controller.signal,
      });
      if (timedOut || r.result.status === Status.Cancel) throw new DimseTimeoutError('retrieve', this.options.idleTimeoutMs);
    } catch (err) {
      // Our own deadline ends the retrieval however the PACS reacts to the cancel (or to the abort after it).
      r.error = timedOut ? new DimseTimeoutError('retrieve', this.options.idleTimeoutMs) : this.explain(err);
    } finally {
      clearTimeout(watchdog);
      r.onArrival = undefined;
    }
    // A partial instance of a failed C-GET is gone before anyone hears of the failure.
    await Promise.allSettled(cleanups);
    const missing = [...r.expected.keys()].filter((sop) => !this.cache.get(sop)).length;
    this.log.info({ scope: r.scope, expected: r.expected.size, arrived: r.arrived.length, missing, failed: r.result?.failed ?? 0, status: r.result ? statusHex(r.result.status) : undefined, ms: Date.now() - started, error: r.error?.message }, 'retrieval finished');
    if (!r.error && missing === 0 && (r.result?.failed ?? 0) === 0 && !r.scope.instance) {
      const bySeries: Record<string, string[]> = {};
      for (const l of r.expected.values()) (bySeries[l.series] ??= []).push(l.sop);
      this.cache.markComplete(r.scope.study, bySeries, !r.scope.series);
    }
  }

  /** 0xA801 gets a message that tells the operator what to do (issue 4 "Errors"). */
  private explain(err: unknown): Error {
    if (err instanceof DimseStatusError && err.status === Status.MoveDestinationUnknown) {
      const { aeTitle, host, port } = this.options.storageScp;
      return withDetails(Errors.pacsFailed(`the PACS does not know the move destination ${aeTitle}: register AE title ${aeTitle}, host ${host === '0.0.0.0' ? "this gateway's address" : host}, port ${port} as a DICOM node in the PACS`), { dimseStatus: statusHex(err.status) });
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  /** C-FIND the instances of a scope (baseline hierarchical: series first for a study). */
  private async list(scope: RetrieveScope): Promise<Listed[]> {
    const seriesList = scope.series
      ? [scope.series]
      : (await this.find('SERIES', { study: scope.study }, [])).map((ds) => ds.getString(Tags.SeriesInstanceUID)).filter((uid): uid is string => !!uid);
    const out: Listed[] = [];
    for (const series of seriesList) {
      const matches: MatchKey[] = scope.instance ? [{ path: [Tags.SOPInstanceUID], vr: 'UI', value: scope.instance }] : [];
      for (const ds of await this.find('IMAGE', { study: scope.study, series }, matches)) {
        const sop = ds.getString(Tags.SOPInstanceUID);
        const sopClassUid = ds.getString(Tags.SOPClassUID);
        if (sop) out.push({ sop, series, ...(sopClassUid ? { sopClassUid } : {}) });
      }
    }
    return out;
  }

  /** One C-FIND's identifiers (small: UIDs only), collected. */
  private async find(level: 'SERIES' | 'IMAGE', parents: { study: string; series?: string }, matches: MatchKey[]): Promise<Dataset[]> {
    const returns = level === 'SERIES' ? [[Tags.SeriesInstanceUID]] : [[Tags.SOPInstanceUID], [Tags.SOPClassUID]];
    const session = await this.backend.find(buildIdentifier(level, { matches, returns }, parents), { fuzzyMatching: false });
    const out: Dataset[] = [];
    try {
      for await (const ds of session.matches) out.push(ds);
    } finally {
      await session.matches.return();
    }
    return out;
  }
}

function describe(scope: RetrieveScope): string {
  if (scope.instance) return `instance ${scope.instance} of series ${scope.series ?? '?'} of study ${scope.study}`;
  if (scope.series) return `series ${scope.series} of study ${scope.study}`;
  return `study ${scope.study}`;
}

