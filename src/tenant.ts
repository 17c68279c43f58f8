import type { GatewayConfig } from './config/schema.js';
import { authPolicy } from './auth/from-config.js';
import type { StorageScpHooks } from './backends/storage-scp-from-config.js';
import type { BackendContext, RunningBackend, TenantArchive } from './backends/backend.js';
import { backendOf } from './backends/registry.js';
import { DEFAULT_TENANT, scopeOf, type TenantSettings } from './tenant-settings.js';
import { QidoService } from './services/qido-service.js';
import { RenderService } from './services/render-service.js';
import { WadoService } from './services/wado-service.js';
import { StowService } from './services/stow-service.js';
import type { ReadBuffers } from './services/file-body.js';
import type { AppTenant } from './app.js';
import type { CodecPool } from './codecs/codec-pool.js';
import { listenProblem } from './config/load.js';
import type { Logger } from './logger.js';
import { AuditEvents, type Audit } from './audit/audit.js';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';

export type { TenantArchive } from './backends/backend.js';

/**
 * A running tenant: its back end (a PACS over DIMSE, the embedded archive…) and the services over its archive.
 * Tenants share nothing but codecs and read buffers.
 */
export interface Tenant extends AppTenant {
  settings: TenantSettings;
  archive: TenantArchive;
  backend: RunningBackend;
  close(): Promise<void>;
}

/** The composition root of one tenant: its archive from its config, then every service over that archive. */
export async function startTenant(
  settings: TenantSettings,
  shared: {
    config: GatewayConfig;
    codecs: CodecPool;
    readBuffers: ReadBuffers;
    audit: Audit;
    logger: Logger;
    metrics?: GatewayMetrics;
    budgetOf?: BackendContext['budgetOf'];
  },
): Promise<Tenant> {
  const { dimse } = settings;
  const log = shared.logger.child({ tenant: settings.id });
  const hooks: StorageScpHooks = {
    logger: log,
    listenProblem: (err) =>
      listenProblem(
        err,
        settings.id === DEFAULT_TENANT ? 'dimse.port' : `tenants.${settings.id}.dimse.port`,
        dimse.host,
        dimse.port,
      ),
    onStoreRefused: (event, scpAddress) =>
      shared.audit.record({
        time: new Date().toISOString(),
        event: AuditEvents.securityAlert,
        outcome: 8,
        who: {
          subject: event.callingAeTitle ?? 'unassociated',
          via: 'dicom',
          address: event.peerAddress,
          tenant: settings.id,
        },
        what: event.sopInstanceUid ? { instance: event.sopInstanceUid } : {},
        request: { method: 'C-STORE', path: scpAddress, status: event.status ?? 0 },
        reason: event.reason,
      }),
  };
  const backend = await backendOf(settings).start(settings, {
    config: shared.config,
    codecs: shared.codecs,
    metrics: shared.metrics,
    hooks,
    budgetOf: shared.budgetOf,
  });
  const { archive } = backend;
  const { render } = shared.config;
  const renderService = new RenderService(archive, shared.codecs, {
    renderedCacheBytes: render.renderedCacheBytes,
    frameCacheBytes: render.frameCacheBytes,
    thumbnail: { size: render.thumbnailSize, choice: render.thumbnailChoice },
    logger: log,
    ...(shared.metrics ? { observer: shared.metrics.renderObserver(settings.id) } : {}),
  });
  return {
    settings,
    id: settings.id,
    basePath: settings.basePath,
    signing: settings.auth,
    archive,
    backend,
    qido: new QidoService(archive),
    wado: new WadoService(archive, {
      bulkDataThreshold: shared.config.wado.bulkDataThreshold,
      readBuffers: shared.readBuffers,
      codecs: shared.codecs,
      logger: log,
    }),
    stow: new StowService(archive, backend.spoolDir),
    render: renderService,
    auth: authPolicy(settings.auth, scopeOf(settings)),
    close: () => archive.close(),
  };
}
