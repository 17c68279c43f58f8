import type { PacsObserver, PacsPeer, RetrieveRequest } from './pacs-peer.js';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { tracer } from '../../tracing/tracing.js';
import { StudyCatalog } from './study-catalog.js';
import { catalogOf } from '../../archive/catalog.js';
import type { InstanceCache, CachedInstance } from '../../cache/instance-cache.js';
import type { InstanceStore } from '../../cache/instance-store.js';
import { receiveInstance } from '../../cache/instance-receiver.js';
import type { StoreRequestHandler } from '../../dimse-bridge/dimse-client.js';
import {
  commandMismatch,
  type StoreAdmission,
  type StoreDestination,
  type StoreRequest,
} from '../../dimse-bridge/storage-scp.js';
import { Status, statusHex } from '../../dicom/status.js';
import { DimseStatusError, DimseTimeoutError } from '../../dimse-bridge/errors.js';
import {
  describeScope,
  type CatalogInstance,
  type HeldInstance,
  type InstanceStream,
  type RetrieveScope,
} from '../../archive/archive.js';
import { ArchiveError } from '../../archive/archive-error.js';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import type { ProbeReceiver } from './pacs-probe.js';
import { ArrivalAdmission } from './arrival-admission.js';
import { cachedScope, fromCache } from './cache-serving.js';
import {
  asArrived,
  asItem,
  Consumer,
  holdIn,
  inScope,
  Retrieval,
  scopeKey,
  type ActiveRetrievals,
  type Listed,
} from './retrieval.js';

export interface MoveMediatorOptions {
  /** A retrieval with no arrival and no response for this long is cancelled and fails (504). */
  idleTimeoutMs: number;
  /** Our Storage SCP as the PACS must know it, for the 0xA801 hint. */
  storageScp: { aeTitle: string; port: number; host: string };
  logger?: Logger;
  /** Told when each retrieval ends (metrics). */
  observer?: Pick<PacsObserver, 'retrievalEnded'>;
}

/**
 * WADO-RS retrieval over the PACS (PS3.18 §10.4), composed of three jobs: serving complete scopes from the cache
 * (cache-serving.ts), admitting arrivals (arrival-admission.ts), and running retrievals (here). Otherwise one
 * C-MOVE (or C-GET) per scope runs, shared by every concurrent request it covers. A listing C-FIND says which
 * instances to expect (and makes an unknown scope a 404 before any byte); for C-MOVE it runs alongside the
 * move, so the first instance is not held up by it. Arriving instances — from the Storage SCP or the C-GET
 * association — are matched to waiting requests by Move Originator Message ID, by SOP Instance UID, or, before
 * the listing is in, by their study/series UIDs.
 */
export class MoveMediator implements StoreDestination {
  private readonly active: ActiveRetrievals = new Map<string, Retrieval>();
  private readonly admission: ArrivalAdmission;
  /** Complete scopes being synced and recorded, which closing waits for. */
  private readonly recording = new Set<Promise<void>>();
  private readonly catalog: StudyCatalog;
  private readonly log: Logger;

  constructor(
    private readonly peer: PacsPeer,
    private readonly cache: InstanceCache,
    private readonly store: InstanceStore,
    private readonly options: MoveMediatorOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'retrieve' });
    this.catalog = new StudyCatalog(peer);
    this.admission = new ArrivalAdmission(this.active, cache, options.storageScp.aeTitle, this.log);
  }

  /** The Storage SCP's question (arrival-admission.ts): is this C-STORE one of our retrievals'? */
  admitStore(request: StoreRequest): StoreAdmission {
    return this.admission.admitStore(request);
  }

  /** Our Storage SCP lent to the capability probe's C-MOVE (arrival-admission.ts). */
  probeReceiver(): ProbeReceiver {
    return this.admission.probeReceiver();
  }

  /** A cached instance handed out: kept from eviction until released. */
  private hold(cached: CachedInstance): HeldInstance {
    return holdIn(this.cache, cached);
  }

  /** Retrievals running now (for tests and metrics). */
  get activeCount(): number {
    return this.active.size;
  }

  /**
   * What a study or series holds, series by series in catalog order: from the cache when it holds the scope
   * completely (the PACS may be down), else from the PACS (C-FIND, series first for a study).
   */
  async contents(scope: RetrieveScope): Promise<CatalogInstance[][]> {
    const complete = scope.instance ? undefined : this.cache.completeScope(scope);
    return complete ? catalogOf(complete) : this.catalog.contents(scope);
  }

  /** Whether `open(scope)` would be answered from the cache alone (nothing asked of the PACS). */
  holdsLocally(scope: RetrieveScope): boolean {
    return cachedScope(this.cache, scope) !== undefined;
  }

  /** Resolves once every complete scope retrieved so far is recorded (closing the cache waits for it). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.recording]);
  }

  /**
   * Scopes opened since start (metrics): from the cache alone (hits), by joining a retrieval already under way
   * for them (joined: the PACS sends once), or by starting one (misses).
   */
  readonly lookups = { hits: 0, joined: 0, misses: 0 };

  /** The instances of a scope. Throws 404 when the PACS has none, 5xx when it cannot be asked. */
  async open(scope: RetrieveScope): Promise<InstanceStream> {
    const cached = cachedScope(this.cache, scope);
    if (cached) {
      this.lookups.hits++;
      return fromCache(this.cache, cached);
    }
    const running = [...this.active.values()].find((candidate) => candidate.covers(scope));
    if (running) this.lookups.joined++;
    else this.lookups.misses++;
    const r = running ?? this.start(scope);
    // The status is known once the listing is in or an instance of the scope has arrived, whichever is first.
    await Promise.race([r.listed, r.arrivalIn(scope)]);
    const arrivedInScope = r.arrived.some((c) => inScope(scope, asItem(c)));
    if (!arrivedInScope) {
      if (r.expected && ![...r.expected.values()].some((l) => inScope(scope, l)))
        throw new ArchiveError('not-found', `${describeScope(scope)} is not known to the PACS`);
      if (!r.expected && (r.listingError ?? r.error)) throw (r.listingError ?? r.error) as Error;
    }
    return this.follow(r, scope);
  }

  private follow(r: Retrieval, scope: RetrieveScope): InstanceStream {
    const consumer = new Consumer(scope);
    if (r.expected) consumer.setListing(r.expected.values());
    // What is here already — cached by earlier requests, or arrived before this request joined — goes first.
    const here = new Set<string>([...r.arrived.map((c) => c.sopInstanceUid), ...(consumer.listed ?? [])]);
    for (const sop of here) {
      const cached = this.cache.get(sop);
      if (cached) consumer.offer(this.hold(cached));
    }
    r.consumers.add(consumer);
    for (const release of r.earlyPins.splice(0)) release();
    const state = { missing: 0 };
    return {
      fromCache: false,
      get failedSubOperations() {
        return r.result?.failed ?? 0;
      },
      get missing() {
        return state.missing;
      },
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
          const listed = consumer.listed;
          state.missing = listed ? [...listed].filter((sop) => !consumer.taken.has(sop)).length : 0;
          if (r.error && (consumer.taken.size === 0 || state.missing > 0)) throw r.error;
        } finally {
          r.consumers.delete(consumer);
          for (const held of consumer.queue.splice(0)) held.release();
        }
      },
    };
  }

  private start(scope: RetrieveScope): Retrieval {
    const r = new Retrieval(scope, this.peer.deliversToStorageScp);
    const key = scopeKey(scope);
    this.active.set(key, r);
    void this.run(r).finally(() => {
      this.active.delete(key);
      r.finish();
    });
    return r;
  }

  private async run(r: Retrieval): Promise<void> {
    const listing = this.list(r.scope).then(
      (items) => {
        r.setListing(items);
        return items;
      },
      (err: unknown) => {
        r.failListing(err instanceof Error ? err : new Error(String(err)));
        return undefined;
      },
    );
    let sopClassUids: string[] = [];
    if (this.peer.listsBeforeRetrieving) {
      // C-GET proposes storage contexts for the SOP classes the listing names.
      const items = await listing;
      if (!items || items.length === 0) return;
      sopClassUids = [...new Set(items.map((l) => l.sopClassUid).filter((c): c is string => !!c))];
    }

    const controller = new AbortController();
    let timedOut = false;
    let watchdog: NodeJS.Timeout | undefined;
    const progress = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        timedOut = true;
        this.log.warn(
          { scope: r.scope, arrived: r.arrived.length, expected: r.expected?.size },
          'retrieval made no progress; cancelling',
        );
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
      sopClassUids,
    };
    const cleanups = new Set<Promise<void>>();
    // C-GET: what arrives on the retrieval's own association must still be what the command says, and in scope.
    const receive: StoreRequestHandler = (info) => {
      progress();
      const receiver = receiveInstance(
        this.store,
        { ...info, sourceAeTitle: info.callingAeTitle },
        {
          verify: async (arrived) =>
            commandMismatch(info, arrived) ??
            (inScope(r.scope, asArrived(arrived))
              ? undefined
              : { status: Status.NotAuthorized, comment: 'the instance is not in the scope of the retrieval' }),
        },
      );
      return {
        write: (chunk) => receiver.write(chunk),
        abort: (reason) => {
          const done = receiver.abort(reason);
          cleanups.add(done);
          return done;
        },
        finish: async () => {
          const outcome = await receiver.finish();
          if ('stored' in outcome) this.admission.stored(outcome.stored);
          progress();
          return outcome;
        },
      };
    };
    const started = performance.now();
    const method = this.peer.deliversToStorageScp ? 'move' : 'get';
    r.span = tracer().startSpan(method === 'move' ? 'C-MOVE' : 'C-GET', {
      kind: SpanKind.CLIENT,
      attributes: { 'dicom.level': request.level },
    });
    const inSpan = trace.setSpan(context.active(), r.span);
    try {
      r.result = await context.with(inSpan, () =>
        this.peer.retrieve(request, {
          onStarted: (messageId) => {
            r.moveMessageId = messageId;
          },
          onProgress: progress,
          receive,
          signal: controller.signal,
        }),
      );
      if (timedOut || r.result.status === Status.Cancel)
        throw new DimseTimeoutError('retrieve', this.options.idleTimeoutMs);
    } catch (err) {
      // Our own deadline ends the retrieval however the PACS reacts to the cancel (or to the abort after it).
      r.error = timedOut
        ? new DimseTimeoutError('retrieve', this.options.idleTimeoutMs)
        : this.explain(err, r.arrived.length);
    } finally {
      clearTimeout(watchdog);
      r.onArrival = undefined;
    }
    // A partial instance of a failed C-GET is gone before anyone hears of the failure.
    await Promise.allSettled(cleanups);
    await listing;
    const expected = r.expected;
    const missing = expected ? [...expected.keys()].filter((sop) => !this.cache.get(sop)).length : undefined;
    this.log.info(
      {
        scope: r.scope,
        expected: expected?.size,
        arrived: r.arrived.length,
        missing,
        failed: r.result?.failed ?? 0,
        status: r.result ? statusHex(r.result.status) : undefined,
        ms: Math.round(performance.now() - started),
        error: r.error?.message,
      },
      'retrieval finished',
    );
    r.span.setAttributes({
      'dicom.retrieve.instances': r.arrived.length,
      'dicom.retrieve.failed_sub_operations': r.result?.failed ?? 0,
    });
    if (r.error) r.span.setStatus({ code: SpanStatusCode.ERROR, message: r.error.message });
    r.span.end();
    this.options.observer?.retrievalEnded({
      method,
      seconds: (performance.now() - started) / 1000,
      ...(r.firstArrivalAt !== undefined ? { firstInstanceSeconds: (r.firstArrivalAt - started) / 1000 } : {}),
      instances: r.arrived.length,
      failedSubOperations: r.result?.failed ?? 0,
      outcome: r.error ? 'failure' : 'success',
    });
    if (
      expected &&
      expected.size > 0 &&
      !r.error &&
      missing === 0 &&
      (r.result?.failed ?? 0) === 0 &&
      !r.scope.instance
    ) {
      const bySeries: Record<string, string[]> = {};
      for (const l of expected.values()) (bySeries[l.series] ??= []).push(l.sop);
      // The requests have every instance now; the scope's files are synced before it counts as complete. Meanwhile
      // the retrieval stays active, so that a request for the scope joins it instead of starting another.
      r.finish();
      const recording = this.cache.markComplete(r.scope.study, bySeries, !r.scope.series).catch((err: unknown) => {
        this.log.warn(
          { scope: r.scope, err: (err as Error).message },
          'the retrieved files could not be synced: the scope is not recorded complete',
        );
      });
      this.recording.add(recording);
      await recording;
      this.recording.delete(recording);
    }
  }

  /**
   * A move destination the PACS does not know gets a message that tells the operator what to do: 0xA801 says so;
   * Orthanc answers 0xC000 instead, so any failure before a single instance arrived carries the hint too.
   */
  private explain(err: unknown, arrived: number): Error {
    if (
      err instanceof DimseStatusError &&
      this.peer.deliversToStorageScp &&
      (err.status === Status.MoveDestinationUnknown || arrived === 0)
    ) {
      const { aeTitle, host, port } = this.options.storageScp;
      const node = `AE title ${aeTitle}, host ${host === '0.0.0.0' ? "this gateway's address" : host}, port ${port}`;
      const message =
        err.status === Status.MoveDestinationUnknown
          ? `the PACS does not know the move destination ${aeTitle}: register ${node} as a DICOM node in the PACS`
          : `the C-MOVE failed with status ${statusHex(err.status)} before any instance arrived${err.errorComment ? ` (${err.errorComment})` : ''}; if the PACS does not know the move destination, register ${node} as a DICOM node in the PACS`;
      return new ArchiveError('failed', message, {
        dimseStatus: statusHex(err.status),
        ...(err.errorComment ? { errorComment: err.errorComment } : {}),
      });
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  /** C-FIND the instances of a scope (baseline hierarchical: series first for a study). */
  private async list(scope: RetrieveScope): Promise<Listed[]> {
    return (await this.catalog.contents(scope))
      .flat()
      .map((i) => ({ sop: i.uid, series: i.seriesUid, ...(i.sopClassUid ? { sopClassUid: i.sopClassUid } : {}) }));
  }
}
