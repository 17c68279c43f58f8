import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PacsObserver } from '../backends/dimse/pacs-peer.js';
import type { StorageScpTallies } from '../dimse-bridge/storage-scp.js';
import type { RenderObserver } from '../services/render-service.js';

/** An association pool as the metrics read it (AssociationPool.stats()). */
export interface PoolReading {
  open: number;
  busy: number;
  waiting: number;
  max: number;
  refused: number;
}

/**
 * What the metrics read of one tenant when they are scraped — its parts' own state and tallies, so that nothing
 * in them depends on the metrics (they keep working, unobserved, with metrics off).
 */
export interface TenantReadings {
  tenant: string;
  /** Each PACS behind the tenant: its label (AE title; a federation's member name) and its association pool. */
  pacs?: readonly { label: string; pool(): PoolReading }[];
  /** The retrieval cache in front of the PACS: its size, scopes served from it or not, evictions. */
  cache?: {
    bytes(): number;
    instances(): number;
    budgetBytes: number;
    lookups: { readonly hits: number; readonly joined: number; readonly misses: number };
    evictions: { readonly instances: number; readonly bytes: number };
  };
  /** The embedded archive. */
  archive?: { instances(): number };
  /** The tenant's Storage SCP, when it listens. */
  scp?: StorageScpTallies;
  /** Bytes in the render service's two caches. */
  renderCaches(): { frames: number; rendered: number };
  /** Instances of STOW-RS requests by outcome. */
  stow: { readonly stored: number; readonly warning: number; readonly failed: number };
}

/** The codec worker pool as the metrics read it. */
export interface CodecReading {
  queued(): number;
  threads(): number;
}

/** Seconds, from 0.5 ms to 60 s: HTTP answers range from a cached frame to a cold study. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type Sample<L extends string> = [labels: Record<L, string>, value: number];

/**
 * The gateway's Prometheus metrics (prom-client), in a registry of their own: served only on the metrics
 * listener (metrics-server.ts), never on the DICOMweb one. Names are `dicomweb_gateway_*`, plus Node.js's
 * process metrics (`process_*`, `nodejs_*`, the event-loop lag among them).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly tenants: TenantReadings[] = [];
  private codecs: CodecReading | undefined;

  private readonly httpRequestDuration = this.histogram(
    'http_request_duration_seconds',
    'HTTP requests by route pattern, method and status: time from the request to the end of its response.',
    ['route', 'method', 'status'],
  );
  private readonly pacsFindDuration = this.histogram(
    'pacs_find_duration_seconds',
    'C-FIND operations to each PACS, from the request to the final response (or the client giving up, or a failure).',
    ['tenant', 'pacs', 'outcome'],
  );
  private readonly pacsRetrievalFirstInstance = this.histogram(
    'pacs_retrieval_first_instance_seconds',
    'C-MOVE and C-GET retrievals from each PACS: time from the request to the first instance arriving.',
    ['tenant', 'pacs', 'method'],
  );
  private readonly pacsRetrievalDuration = this.histogram(
    'pacs_retrieval_duration_seconds',
    'C-MOVE and C-GET retrievals from each PACS, from the request to the final response.',
    ['tenant', 'pacs', 'method', 'outcome'],
  );
  private readonly renderDuration = this.histogram(
    'render_duration_seconds',
    'Images rendered and encoded (rendered cache misses), by the stored transfer syntax and the output media type.',
    ['tenant', 'transfer_syntax', 'output'],
  );
  private readonly pacsRetrievedInstances = new Counter({
    name: 'dicomweb_gateway_pacs_retrieved_instances_total',
    help: 'Instances that arrived from each PACS in C-MOVE and C-GET retrievals.',
    labelNames: ['tenant', 'pacs', 'method'] as const,
    registers: [this.registry],
  });
  private readonly pacsFailedSubOperations = new Counter({
    name: 'dicomweb_gateway_pacs_failed_sub_operations_total',
    help: 'C-MOVE and C-GET sub-operations each PACS reported failed.',
    labelNames: ['tenant', 'pacs', 'method'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named *_total, which Prometheus's lint refuses (promtool check metrics); the same counts by type
    // stay (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);

    this.readAtScrape(
      'gauge',
      'pacs_associations',
      "Associations to each PACS: open (idle or busy), busy (in use), waiting (requests queued for one), max (the pool's limit).",
      ['tenant', 'pacs', 'state'],
      (t) =>
        (t.pacs ?? []).flatMap(({ label: pacs, pool }) => {
          const p = pool();
          return (['open', 'busy', 'waiting', 'max'] as const).map((state): Sample<'tenant' | 'pacs' | 'state'> => [
            { tenant: t.tenant, pacs, state },
            p[state],
          ]);
        }),
    );
    this.readAtScrape(
      'counter',
      'pacs_association_requests_refused_total',
      'Requests for an association to each PACS that the pool refused (its queue full, or no association free in time: 503 + Retry-After).',
      ['tenant', 'pacs'],
      (t) =>
        (t.pacs ?? []).map(({ label: pacs, pool }): Sample<'tenant' | 'pacs'> => [
          { tenant: t.tenant, pacs },
          pool().refused,
        ]),
    );
    this.readAtScrape(
      'counter',
      'stow_instances_total',
      'Instances in STOW-RS requests by outcome: stored (Success), warning (stored, with a warning status), failed.',
      ['tenant', 'outcome'],
      (t) =>
        (['stored', 'warning', 'failed'] as const).map((outcome) => [{ tenant: t.tenant, outcome }, t.stow[outcome]]),
    );
    this.readAtScrape(
      'gauge',
      'cache_bytes',
      "Bytes of instance files in each tenant's retrieval cache (used), and its budget (cache.maxBytes).",
      ['tenant', 'kind'],
      (t) =>
        t.cache
          ? [
              [{ tenant: t.tenant, kind: 'used' }, t.cache.bytes()],
              [{ tenant: t.tenant, kind: 'budget' }, t.cache.budgetBytes],
            ]
          : [],
    );
    this.readAtScrape('gauge', 'cache_instances', "Instances in each tenant's retrieval cache.", ['tenant'], (t) =>
      t.cache ? [[{ tenant: t.tenant }, t.cache.instances()]] : [],
    );
    this.readAtScrape(
      'counter',
      'cache_lookups_total',
      'Scopes asked of the cache: answered from it alone (hit), by a retrieval already under way for them (joined), or by a new retrieval from the PACS (miss).',
      ['tenant', 'outcome'],
      (t) => {
        const lookups = t.cache?.lookups;
        return lookups
          ? (['hit', 'joined', 'miss'] as const).map((outcome) => [
              { tenant: t.tenant, outcome },
              lookups[outcome === 'hit' ? 'hits' : outcome === 'miss' ? 'misses' : 'joined'],
            ])
          : [];
      },
    );
    this.readAtScrape(
      'counter',
      'cache_evictions_total',
      'Instances evicted from the retrieval cache to keep it within its budget.',
      ['tenant'],
      (t) => (t.cache ? [[{ tenant: t.tenant }, t.cache.evictions.instances]] : []),
    );
    this.readAtScrape(
      'counter',
      'cache_evicted_bytes_total',
      'Bytes of instance files evicted from the retrieval cache.',
      ['tenant'],
      (t) => (t.cache ? [[{ tenant: t.tenant }, t.cache.evictions.bytes]] : []),
    );
    this.readAtScrape('gauge', 'archive_instances', "Instances in each tenant's embedded archive.", ['tenant'], (t) =>
      t.archive ? [[{ tenant: t.tenant }, t.archive.instances()]] : [],
    );
    this.readAtScrape(
      'counter',
      'scp_associations_total',
      "Associations to each tenant's Storage SCP: accepted, or rejected (AE title, capacity, address).",
      ['tenant', 'outcome'],
      (t) =>
        t.scp
          ? [
              [{ tenant: t.tenant, outcome: 'accepted' }, t.scp.associationsAccepted],
              [{ tenant: t.tenant, outcome: 'rejected' }, t.scp.associationsRejected],
            ]
          : [],
    );
    this.readAtScrape(
      'counter',
      'scp_instances_total',
      "C-STOREs to each tenant's Storage SCP by outcome: stored, duplicate (archived copy kept), refused (not ours, or not as commanded), failed (ours: disk, index, or cut off).",
      ['tenant', 'outcome'],
      (t) =>
        t.scp
          ? (['stored', 'duplicates', 'refused', 'failed'] as const).map((k) => [
              { tenant: t.tenant, outcome: k === 'duplicates' ? 'duplicate' : k },
              t.scp?.[k] ?? 0,
            ])
          : [],
    );
    this.readAtScrape(
      'counter',
      'scp_stored_bytes_total',
      "Bytes of instances each tenant's Storage SCP stored.",
      ['tenant'],
      (t) => (t.scp ? [[{ tenant: t.tenant }, t.scp.storedBytes]] : []),
    );
    this.readAtScrape(
      'gauge',
      'render_cache_bytes',
      "Bytes held by each tenant's render caches: decoded frames and encoded images.",
      ['tenant', 'cache'],
      (t) => {
        const held = t.renderCaches();
        return [
          [{ tenant: t.tenant, cache: 'frames' }, held.frames],
          [{ tenant: t.tenant, cache: 'rendered' }, held.rendered],
        ];
      },
    );
    const codecs = (): CodecReading | undefined => this.codecs;
    this.readAtScrape('gauge', 'codec_queue_depth', 'Frames waiting for a codec worker thread.', [], () => [
      [{}, codecs()?.queued() ?? 0],
    ]);
    this.readAtScrape(
      'gauge',
      'codec_threads',
      'Codec worker threads running (they start with the first frame to decode).',
      [],
      () => [[{}, codecs()?.threads() ?? 0]],
    );
  }

  private histogram<L extends string>(name: string, help: string, labelNames: readonly L[]): Histogram<L> {
    return new Histogram({
      name: `dicomweb_gateway_${name}`,
      help,
      labelNames,
      buckets: LATENCY_BUCKETS,
      registers: [this.registry],
    });
  }

  /**
   * A family whose samples are read from the parts at each scrape: gauges, and counters kept as the parts' own
   * tallies (monotonic: each scrape exposes the tally's value). `read` runs once per tenant (per scrape, once in
   * all when the family has no tenant label).
   */
  private readAtScrape<L extends string>(
    type: 'gauge' | 'counter',
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (t: TenantReadings) => Sample<L>[],
  ): void {
    const tenants = this.tenants;
    const perTenant = labelNames.includes('tenant' as L);
    const samples = (): Sample<L>[] => (perTenant ? tenants.flatMap(read) : read(tenants[0] as TenantReadings));
    const options = { name: `dicomweb_gateway_${name}`, help, labelNames, registers: [this.registry] };
    if (type === 'gauge') {
      new Gauge({
        ...options,
        collect() {
          this.reset();
          for (const [labels, value] of samples()) this.set(labels, value);
        },
      });
    } else {
      new Counter({
        ...options,
        collect() {
          this.reset();
          for (const [labels, value] of samples()) this.inc(labels, value);
        },
      });
    }
  }

  /** Adds a tenant whose parts are read at each scrape. */
  watchTenant(readings: TenantReadings): void {
    this.tenants.push(readings);
  }

  watchCodecs(readings: CodecReading): void {
    this.codecs = readings;
  }

  /** What one tenant's PACS operations are recorded by, labelled with the tenant and the PACS's AE title. */
  pacsObserver(tenant: string, pacs: string): PacsObserver {
    return {
      findEnded: (seconds, outcome) => this.pacsFindDuration.observe({ tenant, pacs, outcome }, seconds),
      retrievalEnded: (ended) => {
        const { method } = ended;
        this.pacsRetrievalDuration.observe({ tenant, pacs, method, outcome: ended.outcome }, ended.seconds);
        if (ended.firstInstanceSeconds !== undefined)
          this.pacsRetrievalFirstInstance.observe({ tenant, pacs, method }, ended.firstInstanceSeconds);
        this.pacsRetrievedInstances.inc({ tenant, pacs, method }, ended.instances);
        this.pacsFailedSubOperations.inc({ tenant, pacs, method }, ended.failedSubOperations);
      },
    };
  }

  /** What one tenant's render service reports its images to. */
  renderObserver(tenant: string): RenderObserver {
    return {
      rendered: (transferSyntaxUid, output, seconds) =>
        this.renderDuration.observe({ tenant, transfer_syntax: transferSyntaxUid, output }, seconds),
    };
  }

  /** One HTTP request answered: its route pattern (not its URL: bounded labels), method, status and duration. */
  observeHttp(route: string, method: string, status: number, seconds: number): void {
    this.httpRequestDuration.observe({ route, method, status: String(status) }, seconds);
  }

  /** The exposition text (Prometheus text format 0.0.4) and its media type. */
  async exposition(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
