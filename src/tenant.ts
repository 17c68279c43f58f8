import path from 'node:path';
import type { GatewayConfig } from './config/schema.js';
import type { AuthConfig } from './auth/from-config.js';
import { authPolicy } from './auth/from-config.js';
import type { TenantScope } from './auth/tenant-scope.js';
import { DimseArchive } from './backends/dimse/dimse-archive.js';
import { EmbeddedArchive, type EmbeddedArchiveSettings } from './backends/embedded/embedded-archive.js';
import type { StorageScpHooks } from './backends/storage-scp-from-config.js';
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

/** The id of the tenant the top-level pacs, dimse, auth and cache describe, served at {basePath}. */
export const DEFAULT_TENANT = 'default';

/** One tenant as configured: where it is served and what it is backed by. */
export interface TenantSettings {
  id: string;
  /** Its service base: `{basePath}` for the default tenant, `{basePath}/tenants/{id}` for the others. */
  basePath: string;
  /** What answers for the tenant: the PACS (`pacs`, over DIMSE) or the embedded archive (`archive`). */
  backend: GatewayConfig['backend'];
  pacs: GatewayConfig['pacs'];
  archive: GatewayConfig['archive'];
  dimse: GatewayConfig['dimse'];
  auth: AuthConfig;
  cache: GatewayConfig['cache'];
}

/** Every tenant of a configuration, the default one first. */
export function tenantSettings(config: GatewayConfig): TenantSettings[] {
  const base = config.http.basePath;
  return [
    {
      id: DEFAULT_TENANT,
      basePath: base,
      backend: config.backend,
      pacs: config.pacs,
      archive: config.archive,
      dimse: config.dimse,
      auth: config.auth,
      cache: config.cache,
    },
    ...Object.entries(config.tenants).map(([id, t]) => ({ id, basePath: `${base}/tenants/${id}`, ...t })),
  ];
}

export const scopeOf = (t: TenantSettings): TenantScope =>
  t.id === DEFAULT_TENANT ? { base: t.basePath, excluded: `${t.basePath}/tenants` } : { base: t.basePath };

/** The back ends a tenant can have. */
export type TenantArchive = DimseArchive | EmbeddedArchive;

/** A running tenant: its archive (a PACS over DIMSE, or the embedded one) and the services over it. Tenants share nothing but codecs and read buffers. */
export interface Tenant extends AppTenant {
  settings: TenantSettings;
  archive: TenantArchive;
  close(): Promise<void>;
}

/** The embedded archive of a tenant as configured. */
export const embeddedSettings = (t: TenantSettings, config: GatewayConfig): EmbeddedArchiveSettings => ({
  dir: t.archive.dir,
  duplicates: t.archive.duplicates,
  minFreeBytes: t.dimse.minFreeBytes,
  inlineBinaryMaxBytes: config.wado.bulkDataThreshold,
});

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
  const archive: TenantArchive =
    settings.backend === 'embedded'
      ? await EmbeddedArchive.start(embeddedSettings(settings, shared.config), dimse, hooks)
      : await DimseArchive.start(
          {
            ...settings,
            qido: shared.config.qido,
            codecs: shared.codecs,
            ...(shared.metrics ? { observer: shared.metrics.pacsObserver(settings.id, settings.pacs.aeTitle) } : {}),
          },
          hooks,
        );
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
    qido: new QidoService(archive),
    wado: new WadoService(archive, {
      bulkDataThreshold: shared.config.wado.bulkDataThreshold,
      readBuffers: shared.readBuffers,
      codecs: shared.codecs,
      logger: log,
    }),
    stow: new StowService(
      archive,
      path.join(settings.backend === 'embedded' ? settings.archive.dir : settings.cache.dir, 'stow-json-spool'),
    ),
    render: renderService,
    auth: authPolicy(settings.auth, scopeOf(settings)),
    close: () => archive.close(),
  };
}
