import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PacsObserver } from '../backends/dimse/pacs-peer.js';

/** An association pool as the metrics read it (AssociationPool.stats()). */
export interface PoolReading {
  open: number;
  busy: number;
  waiting: number;
  max: number;
}

/**
 * What the metrics read of one tenant when they are scraped — its parts' own state, so that nothing in them
 * depends on the metrics (they keep working, unobserved, with metrics off).
 */
export interface TenantReadings {
  tenant: string;
  /** The PACS behind the tenant: its label (AE title) and its association pool. */
  pacs?: { label: string; pool(): PoolReading };
  /** The retrieval cache in front of the PACS. */
  cache?: { bytes(): number; instances(): number; budgetBytes: number };
  /** The embedded archive. */
  archive?: { instances(): number };
}

/** The codec worker pool as the metrics read it. */
export interface CodecReading {
  queued(): number;
  threads(): number;
}

/** Seconds, from 0.5 ms to 60 s: HTTP answers range from a cached frame to a cold study. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The gateway's Prometheus metrics (prom-client), in a registry of their own: served only on the metrics
 * listener (metrics-server.ts), never on the DICOMweb one. Names are `dicomweb_gateway_*`, plus Node.js's
 * process metrics (`process_*`, `nodejs_*`, the event-loop lag among them).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly tenants: TenantReadings[] = [];
  private codecs: CodecReading | undefined;

  readonly httpRequestDuration = new Histogram({
    name: 'dicomweb_gateway_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status: time from the request to the end of its response.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly pacsFindDuration = new Histogram({
    name: 'dicomweb_gateway_pacs_find_duration_seconds',
    help: 'C-FIND operations to each PACS, from the request to the final response (or the client giving up, or a failure).',
    labelNames: ['tenant', 'pacs', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly pacsRetrievalFirstInstance = new Histogram({
    name: 'dicomweb_gateway_pacs_retrieval_first_instance_seconds',
    help: 'C-MOVE and C-GET retrievals from each PACS: time from the request to the first instance arriving.',
    labelNames: ['tenant', 'pacs', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly pacsRetrievalDuration = new Histogram({
    name: 'dicomweb_gateway_pacs_retrieval_duration_seconds',
    help: 'C-MOVE and C-GET retrievals from each PACS, from the request to the final response.',
    labelNames: ['tenant', 'pacs', 'method', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly pacsRetrievedInstances = new Counter({
    name: 'dicomweb_gateway_pacs_retrieved_instances_total',
    help: 'Instances that arrived from each PACS in C-MOVE and C-GET retrievals.',
    labelNames: ['tenant', 'pacs', 'method'] as const,
    registers: [this.registry],
  });

  readonly pacsFailedSubOperations = new Counter({
    name: 'dicomweb_gateway_pacs_failed_sub_operations_total',
    help: 'C-MOVE and C-GET sub-operations each PACS reported failed.',
    labelNames: ['tenant', 'pacs', 'method'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named *_total, which Prometheus's lint refuses (promtool check metrics); the same counts by type
    // stay (nodejs_active_handles, nodejs_active_requests, nodejs_active_resources).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    // Read at each scrape (collect runs with the gauge as `this`).
    const tenants = this.tenants;
    const codecs = (): CodecReading | undefined => this.codecs;
    new Gauge({
      name: 'dicomweb_gateway_pacs_associations',
      help: 'Associations to each PACS: open (idle or busy), busy (in use), waiting (requests queued for one), max (the pool\'s limit).',
      labelNames: ['tenant', 'pacs', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const t of tenants) {
          if (!t.pacs) continue;
          const p = t.pacs.pool();
          for (const [state, n] of [['open', p.open], ['busy', p.busy], ['waiting', p.waiting], ['max', p.max]] as const) this.set({ tenant: t.tenant, pacs: t.pacs.label, state }, n);
        }
      },
    });
    new Gauge({
      name: 'dicomweb_gateway_cache_bytes',
      help: 'Bytes of instance files in each tenant\'s retrieval cache, and its budget (cache.maxBytes).',
      labelNames: ['tenant', 'kind'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const t of tenants) {
          if (!t.cache) continue;
          this.set({ tenant: t.tenant, kind: 'used' }, t.cache.bytes());
          this.set({ tenant: t.tenant, kind: 'budget' }, t.cache.budgetBytes);
        }
      },
    });
    new Gauge({
      name: 'dicomweb_gateway_cache_instances',
      help: 'Instances in each tenant\'s retrieval cache.',
      labelNames: ['tenant'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const t of tenants) if (t.cache) this.set({ tenant: t.tenant }, t.cache.instances());
      },
    });
    new Gauge({
      name: 'dicomweb_gateway_archive_instances',
      help: 'Instances in each tenant\'s embedded archive.',
      labelNames: ['tenant'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const t of tenants) if (t.archive) this.set({ tenant: t.tenant }, t.archive.instances());
      },
    });
    new Gauge({
      name: 'dicomweb_gateway_codec_queue_depth',
      help: 'Frames waiting for a codec worker thread.',
      registers: [this.registry],
      collect() { this.set(codecs()?.queued() ?? 0); },
    });
    new Gauge({
      name: 'dicomweb_gateway_codec_threads',
      help: 'Codec worker threads running (they start with the first frame to decode).',
      registers: [this.registry],
      collect() { this.set(codecs()?.threads() ?? 0); },
    });
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
        if (ended.firstInstanceSeconds !== undefined) this.pacsRetrievalFirstInstance.observe({ tenant, pacs, method }, ended.firstInstanceSeconds);
        this.pacsRetrievedInstances.inc({ tenant, pacs, method }, ended.instances);
        this.pacsFailedSubOperations.inc({ tenant, pacs, method }, ended.failedSubOperations);
      },
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
