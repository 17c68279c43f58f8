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
import { startTenant, type Tenant, type TenantArchive } from './tenant.js';
import { DEFAULT_TENANT, tenantSettings } from './tenant-settings.js';
import { backendOf } from './backends/registry.js';
import type { AdminReport } from './backends/backend.js';
import type { RenderService } from './services/render-service.js';
import { GatewayMetrics, type TenantReadings } from './metrics/gateway-metrics.js';
import { listenMetrics, type MetricsServer } from './metrics/metrics-server.js';
import { sharedStateFrom } from './shared-state/shared-state.js';

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
    for (const { fields, message } of backendOf(t).startWarnings(t)) log.warn({ tenant: t.id, ...fields }, message);
    if (t.auth.mode === 'none')
      log.warn(
        { host: config.http.host, tenant: t.id },
        'auth.mode is "none": every DICOMweb request to this tenant is served without credentials',
      );
  }
  const tracing = startTracing(config.tracing, log, gatewayVersion());
  const codecs = new CodecPool({ threads: config.codecs.threads, maxQueue: config.codecs.maxQueue });
  const audit = auditFromConfig(config.audit);
  const shared = sharedStateFrom(config, log);
  const tenants: Tenant[] = [];
  const metrics = config.metrics.enabled ? new GatewayMetrics() : undefined;
  let metricsServer: MetricsServer | undefined;
  // Each PACS as last probed (null: not yet) and how retrievals run now, by tenant (on the metrics listener only).
  const pacsReport = (): Record<string, AdminReport> =>
    Object.fromEntries(
      tenants.flatMap((t) => {
        const report = t.backend.adminReport?.();
        return report ? [[t.settings.id, report]] : [];
      }),
    );
  const probes: Promise<void>[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(probes);
    await metricsServer?.close();
    for (const t of tenants) await t.close();
    await codecs.close();
    await shared.close();
    await audit.close();
    await tracing?.shutdown();
  };
  let app: FastifyInstance;
  let address: string;
  try {
    const readBuffers = new ReadBuffers();
    for (const s of settings)
      tenants.push(
        await startTenant(s, {
          config,
          codecs,
          readBuffers,
          audit,
          logger: log,
          budgetOf: shared.budgetOf,
          ...(metrics ? { metrics } : {}),
        }),
      );
    app = buildApp({
      settings: httpSettings(config),
      tenants,
      audit,
      counters: shared.counters,
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
  // What a back end does once the gateway listens (a PACS is probed once, in the background: a start that fails
  // does not wait for it, and a PACS down does not stop the start; with pacs.retrieve auto it chooses C-GET or
  // C-MOVE, and retrievals wait for it).
  for (const t of tenants) {
    const after = t.backend.afterListen?.();
    if (after) probes.push(after);
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

/** What the metrics read of a tenant at each scrape: its own counters, and what its back end reports. */
function tenantReadings(t: Tenant): TenantReadings {
  const scp = t.archive.storageScp?.tallies;
  return {
    tenant: t.id,
    renderCaches: () => t.render.cachedBytes,
    stow: t.stow.tallies,
    ...(scp ? { scp } : {}),
    ...t.backend.readings(),
  };
}
