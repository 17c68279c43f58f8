import type { Span } from '@opentelemetry/api';
import type { CachedInstance, InstanceCache } from '../../cache/instance-cache.js';
import type { ArrivedUids } from '../../cache/instance-receiver.js';
import type { MoveResult } from '../../dimse-bridge/dimse-client.js';
import type { HeldInstance, RetrieveScope } from '../../archive/archive.js';

/**
 * The state of retrievals from a PACS, shared by the jobs around them: who waits for what (Consumer), and one
 * C-MOVE or C-GET in progress with what it expects and what has arrived (Retrieval). No I/O here.
 */

export interface Listed {
  sop: string;
  series: string;
  sopClassUid?: string;
}

export const scopeKey = (s: RetrieveScope): string => [s.study, s.series ?? '', s.instance ?? ''].join('/');

export function inScope(scope: RetrieveScope, item: { study?: string; series: string; sop: string }): boolean {
  return (
    (item.study === undefined || item.study === scope.study) &&
    (!scope.series || item.series === scope.series) &&
    (!scope.instance || item.sop === scope.instance)
  );
}

export const asArrived = (a: ArrivedUids): { study: string; series: string; sop: string } => ({
  study: a.studyInstanceUid,
  series: a.seriesInstanceUid,
  sop: a.sopInstanceUid,
});

export const asItem = (c: CachedInstance): { study: string; series: string; sop: string } => ({
  study: c.studyInstanceUid,
  series: c.seriesInstanceUid,
  sop: c.sopInstanceUid,
});

/**
 * A consumer of a retrieval: a queue of pinned arrivals it wants, and a way to wake it. Until the listing is
 * known it wants whatever arrives in its scope; then exactly the listed instances of its scope.
 */
export class Consumer {
  readonly queue: HeldInstance[] = [];
  readonly taken = new Set<string>();
  private wanted: Set<string> | undefined;
  private wake: (() => void) | undefined;
  constructor(readonly scope: RetrieveScope) {}

  setListing(listed: Iterable<Listed>): void {
    this.wanted = new Set([...listed].filter((l) => inScope(this.scope, l)).map((l) => l.sop));
    this.signal();
  }

  get listed(): ReadonlySet<string> | undefined {
    return this.wanted;
  }

  offer(held: HeldInstance): void {
    const sop = held.instance.sopInstanceUid;
    const wants = this.wanted ? this.wanted.has(sop) : inScope(this.scope, asItem(held.instance));
    if (!wants || this.taken.has(sop)) {
      held.release();
      return;
    }
    this.taken.add(sop);
    this.queue.push(held);
    this.signal();
  }

  signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  waitForChange(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}

/** One C-MOVE or C-GET in progress, shared by every request it covers (single-flight). */
export class Retrieval {
  readonly arrived: CachedInstance[] = [];
  private readonly arrivedUids = new Set<string>();
  readonly consumers = new Set<Consumer>();
  /** Pins on arrivals that came before any consumer joined; released once the first one has them. */
  readonly earlyPins: (() => void)[] = [];
  /** The listing C-FIND's instances, once known. */
  expected: Map<string, Listed> | undefined;
  listingError: Error | undefined;
  moveMessageId: number | undefined;
  /** performance.now() of the first arrival. */
  firstArrivalAt: number | undefined;
  /** The retrieval's span (OpenTelemetry): each sub-operation that arrives is an event of it. */
  span: Span | undefined;
  /** Called on every arrival: restarts the no-progress deadline. */
  onArrival: (() => void) | undefined;
  done = false;
  error: Error | undefined;
  result: MoveResult | undefined;
  readonly listed: Promise<void>;
  private resolveListed!: () => void;
  private arrivalWaiters: { scope: RetrieveScope; resolve: () => void }[] = [];

  /** C-MOVE: its instances reach the Storage SCP (C-GET: its own association). */
  constructor(
    readonly scope: RetrieveScope,
    readonly viaStorageScp: boolean,
  ) {
    this.listed = new Promise((resolve) => {
      this.resolveListed = resolve;
    });
  }

  setListing(items: Listed[]): void {
    this.expected = new Map(items.map((item) => [item.sop, item]));
    for (const c of this.consumers) c.setListing(items);
    this.resolveListed();
  }

  failListing(err: Error): void {
    this.listingError = err;
    this.resolveListed();
  }

  /** Whether an arrival belongs to this retrieval: listed, or (before the listing) inside the scope. */
  expects(c: CachedInstance): boolean {
    return this.expected ? this.expected.has(c.sopInstanceUid) : inScope(this.scope, asItem(c));
  }

  /** Records an arrival; false when the instance had arrived already (the probe's C-MOVE may bring a copy too). */
  arrive(c: CachedInstance): boolean {
    if (this.arrivedUids.has(c.sopInstanceUid)) return false;
    this.arrivedUids.add(c.sopInstanceUid);
    this.arrived.push(c);
    this.firstArrivalAt ??= performance.now();
    this.span?.addEvent('sub-operation', { 'dicom.sop_instance_uid': c.sopInstanceUid });
    this.onArrival?.();
    this.arrivalWaiters = this.arrivalWaiters.filter((w) => {
      if (!inScope(w.scope, asItem(c))) return true;
      w.resolve();
      return false;
    });
    return true;
  }

  /** Resolves when an instance of `scope` has arrived (at once if one has). */
  arrivalIn(scope: RetrieveScope): Promise<void> {
    if (this.arrived.some((c) => inScope(scope, asItem(c)))) return Promise.resolve();
    return new Promise((resolve) => this.arrivalWaiters.push({ scope, resolve }));
  }

  covers(scope: RetrieveScope): boolean {
    if (scope.study !== this.scope.study) return false;
    if (!this.scope.series) return true;
    if (scope.series !== this.scope.series) return false;
    return !this.scope.instance || scope.instance === this.scope.instance;
  }

  finish(): void {
    this.done = true;
    for (const release of this.earlyPins.splice(0)) release();
    this.resolveListed();
    for (const w of this.arrivalWaiters.splice(0)) w.resolve();
    for (const c of this.consumers) c.signal();
  }
}

/** Retrievals running now, by scope key: the runner adds and removes them, admission and serving read them. */
export type ActiveRetrievals = Map<string, Retrieval>;

/** A cached instance kept from eviction until released (each hold counts). */
export function holdIn(cache: InstanceCache, cached: CachedInstance): HeldInstance {
  return {
    instance: cached,
    release: cache.pin(cached.sopInstanceUid),
    holdAgain: () => cache.pin(cached.sopInstanceUid),
  };
}
