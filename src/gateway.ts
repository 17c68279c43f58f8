import type { FastifyInstance } from 'fastify';
import { gatewayLogger } from './logger.js';
import { startTracing } from './tracing/tracing.js';
import { gatewayVersion } from './version.js';
import { buildApp, httpSettings } from './app.js';
import { ReadBuffers } from './services/file-body.js';
import { isLoopback, type GatewayConfig } from './config/schema.js';
import { configErrorOf, listenProblem } from './config/load.js';
import { authConfigProblem } from './auth/from-config.js';
import { CodecPool } from './codecs/codec-pool.js';
import { auditFromConfig } from './audit/audit.js';
import { DEFAULT_TENANT, startTenant, tenantSettings, type Tenant, type TenantArchive } from './tenant.js';
import type { RenderService } from './services/render-service.js';
import { GatewayMetrics, type TenantReadings } from './metrics/gateway-metrics.js';
import { listenMetrics, type MetricsServer } from './metrics/metrics-server.js';
import { DimseArchive } from './backends/dimse/dimse-archive.js';
import type { PacsCapabilities } from './backends/dimse/pacs-probe.js';

/** The whole gateway: per tenant a PACS connection pool, a Storage SCP and a cache; one DICOMweb HTTP server. */
export interface Gateway {
  app: FastifyInstance;
  /** Every tenant by id, `default` included. */
  tenants: ReadonlyMap<string, Tenant>;
  /** The default tenant's archive and render service. */
  archive: TenantArchive;
  render: RenderService;
  /** HTTP address actually bound (port 0 resolves to a free port). */
  httpUrl: string;
  /** The metrics listener's address, when `metrics.enabled`. */
  metricsUrl?: string;
  /** Opens the audit file again (SIGHUP after logrotate moved it). */
  reopenFiles(): void;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Serve without credentials on a non-loopback address (`serve --insecure`). */
  allowInsecure?: boolean;
}

/**
 * What keeps a valid configuration from starting safely: a tenant nobody could authenticate to, or one served
 * without credentials beyond this machine. (`check` reports them too.)
 */
export function startProblems(config: GatewayConfig, start: StartOptions = {}): string[] {
  return tenantSettings(config).flatMap((t) => {
    const where = t.id === DEFAULT_TENANT ? '' : `tenants.${t.id}.`;
    const problem = authConfigProblem(t.auth);
    if (problem) return [`${where}${problem}`];
    if (t.auth.mode === 'none' && !isLoopback(config.http.host) && !start.allowInsecure) {
      return [
        `${where}auth.mode is "none" but HTTP listens on ${config.http.host}: anyone who can reach it would read the archive. Configure auth, listen on 127.0.0.1, or start with --insecure`,
      ];
    }
    const certificates = t.auth.clientCertificates.length > 0;
    if (certificates && !config.http.tls?.ca)
      return [`${where}auth.clientCertificates needs http.tls with a ca that verifies the clients' certificates`];
    return [];
  });
}

export async function startGateway(config: GatewayConfig, start: StartOptions = {}): Promise<Gateway> {
  const settings = tenantSettings(config);
  const problems = startProblems(config, start);
  if (problems.length) throw configErrorOf(problems);
  const log = gatewayLogger(config.log);
  for (const t of settings) {
    if (
      t.backend === 'embedded' &&
      t.dimse.listen &&
      !isLoopback(t.dimse.host) &&
      t.dimse.allowedPeers.length === 0 &&
      !t.dimse.tls?.requireClientCert
    ) {
      log.warn(
        { tenant: t.id, host: t.dimse.host, port: t.dimse.port },
        "the archive's Storage SCP takes instances from any peer that can reach it: set dimse.allowedPeers (or DICOM TLS with client certificates)",
      );
    }
    if (t.auth.mode === 'none')
      log.warn(
        { host: config.http.host, tenant: t.id },
        'auth.mode is "none": every DICOMweb request to this tenant is served without credentials',
      );
  }
  const tracing = startTracing(config.tracing, log, gatewayVersion());
  const codecs = new CodecPool({ threads: config.codecs.threads, maxQueue: config.codecs.maxQueue });
  const audit = auditFromConfig(config.audit);
  const tenants: Tenant[] = [];
  const metrics = config.metrics.enabled ? new GatewayMetrics() : undefined;
  let metricsServer: MetricsServer | undefined;
  // Each PACS as last probed (null: not yet) and how retrievals run now, by tenant (on the metrics listener only).
  const pacsReport = (): Record<string, PacsReport> =>
    Object.fromEntries(
      tenants.flatMap((t) => {
        if (!(t.archive instanceof DimseArchive)) return [];
        const report: PacsReport = {
          retrieval: {
            method: t.archive.peer.retrieval,
            chosenBy: t.settings.pacs.retrieve === 'auto' ? 'probe' : 'configuration',
          },
          probe: t.archive.capabilities.latest ?? null,
        };
        return [[t.settings.id, report]];
      }),
    );
  const probes: Promise<void>[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(probes);
    await metricsServer?.close();
    for (const t of tenants) await t.close();
    await codecs.close();
    await audit.close();
    await tracing?.shutdown();
  };
  let app: FastifyInstance;
  let address: string;
  try {
    const readBuffers = new ReadBuffers();
    for (const s of settings)
      tenants.push(
        await startTenant(s, { config, codecs, readBuffers, audit, logger: log, ...(metrics ? { metrics } : {}) }),
      );
    app = buildApp({
      settings: httpSettings(config),
      tenants,
      audit,
      loggerInstance: log,
      ...(metrics ? { metrics } : {}),
    });
    if (metrics) {
      for (const t of tenants) metrics.watchTenant(tenantReadings(t));
      metrics.watchCodecs({ queued: () => codecs.queued, threads: () => codecs.threadCount });
      const { host, port } = config.metrics;
      metricsServer = await listenMetrics(metrics, { host, port }, log, { pacs: pacsReport }).catch((err: unknown) => {
        throw listenProblem(err, 'metrics.port', host, port);
      });
      log.info({ url: `${metricsServer.url}/metrics` }, 'metrics listening');
    }
    address = await app.listen({ host: config.http.host, port: config.http.port }).catch((err: unknown) => {
      throw listenProblem(err, 'http.port', config.http.host, config.http.port);
    });
  } catch (err) {
    await closeAll();
    throw err;
  }
  // Each PACS is probed once, in the background, once the gateway listens (a start that fails does not wait for
  // it, and a PACS down does not stop the start): logged once, served to operators on the metrics listener only,
  // and with pacs.retrieve auto it chooses C-GET or C-MOVE (retrievals wait for it).
  for (const t of tenants) {
    if (t.archive instanceof DimseArchive && t.settings.pacs.probeAtStart)
      probes.push(
        t.archive.probe().then(
          () => undefined,
          () => undefined,
        ),
      );
  }
  const [main] = tenants as [Tenant, ...Tenant[]];
  return {
    app,
    tenants: new Map(tenants.map((t) => [t.settings.id, t])),
    archive: main.archive,
    render: main.render,
    httpUrl: address,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    reopenFiles: () => audit.reopen(),
    async close() {
      await app.close();
      await closeAll();
    },
  };
}

/** What `/admin/pacs` says of a tenant's PACS. */
interface PacsReport {
  retrieval: { method: 'move' | 'get'; chosenBy: 'configuration' | 'probe' };
  probe: PacsCapabilities | { error: string } | null;
}

/** What the metrics read of a tenant at each scrape: its PACS pool and cache, or its archive. */
function tenantReadings(t: Tenant): TenantReadings {
  const { archive } = t;
  const scp = archive.storageScp?.tallies;
  const common = {
    tenant: t.id,
    renderCaches: () => t.render.cachedBytes,
    stow: t.stow.tallies,
    ...(scp ? { scp } : {}),
  };
  if (archive instanceof DimseArchive) {
    const { cache } = archive;
    return {
      ...common,
      pacs: { label: t.settings.pacs.aeTitle, pool: () => archive.peer.poolStats() },
      cache: {
        bytes: () => cache.totalBytes,
        instances: () => cache.size,
        budgetBytes: cache.maxBytes,
        lookups: archive.mediator.lookups,
        evictions: cache.evictions,
      },
    };
  }
  return { ...common, archive: { instances: () => archive.instanceCount } };
}
