import type { GatewayConfig } from './config/schema.js';
import type { AuthConfig } from './auth/from-config.js';
import { authPolicy } from './auth/from-config.js';
import type { AuthPolicy } from './auth/policy.js';
import type { TenantScope } from './auth/tenant-scope.js';
import { AssociationPool } from './dimse-bridge/association-pool.js';
import { StorageScp } from './dimse-bridge/storage-scp.js';
import { DimseBackend } from './services/dimse-backend.js';
import { InstanceStore } from './cache/instance-store.js';
import { InstanceCache } from './cache/instance-cache.js';
import { RetrieveService } from './services/retrieve-service.js';
import { RenderService } from './services/render-service.js';
import { StudyCatalog } from './services/study-catalog.js';
import type { CodecPool } from './codecs/codec-pool.js';
import { pacsTlsOptions, scpTlsOptions } from './config/tls.js';
import { IMPLEMENTATION } from './dicom/uid.js';
import { listenProblem } from './config/load.js';
import type { Logger } from './logger.js';
import { AuditEvents, type Audit } from './audit/audit.js';

/** The id of the tenant the top-level pacs, dimse, auth and cache describe, served at {basePath}. */
export const DEFAULT_TENANT = 'default';

/** One tenant as configured: where it is served and what it is backed by. */
export interface TenantSettings {
  id: string;
  /** Its service base: `{basePath}` for the default tenant, `{basePath}/tenants/{id}` for the others. */
  basePath: string;
  pacs: GatewayConfig['pacs'];
  dimse: GatewayConfig['dimse'];
  auth: AuthConfig;
  cache: GatewayConfig['cache'];
}

/** Every tenant of a configuration, the default one first. */
export function tenantSettings(config: GatewayConfig): TenantSettings[] {
  const base = config.http.basePath;
  return [
    { id: DEFAULT_TENANT, basePath: base, pacs: config.pacs, dimse: config.dimse, auth: config.auth, cache: config.cache },
    ...Object.entries(config.tenants).map(([id, t]) => ({ id, basePath: `${base}/tenants/${id}`, ...t })),
  ];
}

export const scopeOf = (t: TenantSettings): TenantScope =>
  (t.id === DEFAULT_TENANT ? { base: t.basePath, excluded: `${t.basePath}/tenants` } : { base: t.basePath });

/** A running tenant: its PACS connections, Storage SCP, cache and services. Tenants share nothing but codecs. */
export interface Tenant {
  settings: TenantSettings;
  backend: DimseBackend;
  /** Absent when `dimse.listen` is off (C-GET needs none). */
  storageScp: StorageScp | undefined;
  cache: InstanceCache;
  retrieve: RetrieveService;
  render: RenderService;
  auth: AuthPolicy;
  close(): Promise<void>;
}

export async function startTenant(settings: TenantSettings, shared: { config: GatewayConfig; codecs: CodecPool; audit: Audit; logger: Logger }): Promise<Tenant> {
  const { pacs, dimse } = settings;
  const log = shared.logger.child({ tenant: settings.id });
  const pacsTls = pacsTlsOptions(settings);
  const scpTls = scpTlsOptions(settings);
  const pool = new AssociationPool({
    peer: { host: pacs.host, port: pacs.port, aeTitle: pacs.aeTitle },
    callingAeTitle: dimse.aeTitle,
    maxAssociations: pacs.maxAssociations,
    queueLimit: pacs.queueLimit,
    queueTimeoutMs: pacs.queueTimeoutMs,
    idleTimeoutMs: pacs.idleTimeoutMs,
    connectTimeoutMs: pacs.connectTimeoutMs,
    artimTimeoutMs: pacs.artimTimeoutMs,
    responseTimeoutMs: pacs.responseTimeoutMs,
    maxPduLength: pacs.maxPduLength,
    implementation: IMPLEMENTATION,
    ...(pacs.localAddress ? { localAddress: pacs.localAddress } : {}),
    ...(pacsTls ? { tls: pacsTls } : {}),
    logger: log,
  });
  const backend = new DimseBackend(pool, { retrieve: pacs.retrieve, moveDestination: dimse.aeTitle, cancelGraceMs: Math.min(pacs.retrieveTimeoutMs, 5000) });
  const store = new InstanceStore(settings.cache.dir, { minFreeBytes: dimse.minFreeBytes });
  const cache = new InstanceCache(store, settings.cache.maxBytes, log);
  await cache.open();
  let storageScp: StorageScp | undefined;
  const scpAddress = { aeTitle: dimse.aeTitle, host: dimse.host, get port(): number { return storageScp?.port ?? dimse.port; } };
  const retrieve = new RetrieveService(backend, cache, store, { idleTimeoutMs: pacs.retrieveTimeoutMs, storageScp: scpAddress, logger: log });
  if (dimse.listen) {
    storageScp = new StorageScp({
      aeTitle: dimse.aeTitle,
      host: dimse.host,
      port: dimse.port,
      allowedCallingAeTitles: dimse.allowedCallingAeTitles,
      allowedPeers: dimse.allowedPeers,
      maxAssociations: dimse.maxAssociations,
      maxPduLength: dimse.maxPduLength,
      artimTimeoutMs: dimse.artimTimeoutMs,
      requestTimeoutMs: dimse.requestTimeoutMs,
      maxDatasetBytes: dimse.maxDatasetBytes,
      idleTimeoutMs: dimse.idleTimeoutMs,
      implementation: IMPLEMENTATION,
      store,
      // The mediator: only instances of retrievals this tenant started are stored, and reach the requests waiting.
      destination: retrieve,
      onRefused: (event) => shared.audit.record({
        time: new Date().toISOString(),
        event: AuditEvents.securityAlert,
        outcome: 8,
        who: { subject: event.callingAeTitle ?? 'unassociated', via: 'dicom', address: event.peerAddress, tenant: settings.id },
        what: event.sopInstanceUid ? { instance: event.sopInstanceUid } : {},
        request: { method: 'C-STORE', path: `${dimse.aeTitle}@${dimse.host}:${storageScp?.port ?? dimse.port}`, status: event.status ?? 0 },
        reason: event.reason,
      }),
      ...(scpTls ? { tls: scpTls } : {}),
      logger: log,
    });
    try {
      await storageScp.listen();
    } catch (err) {
      await pool.close();
      await store.close();
      throw listenProblem(err, settings.id === DEFAULT_TENANT ? 'dimse.port' : `tenants.${settings.id}.dimse.port`, dimse.host, dimse.port);
    }
  }
  const { render } = shared.config;
  const renderService = new RenderService(retrieve, new StudyCatalog(backend), shared.codecs, {
    renderedCacheBytes: render.renderedCacheBytes,
    frameCacheBytes: render.frameCacheBytes,
    thumbnail: { size: render.thumbnailSize, choice: render.thumbnailChoice },
    logger: log,
  });
  return {
    settings,
    backend,
    storageScp,
    cache,
    retrieve,
    render: renderService,
    auth: authPolicy(settings.auth, scopeOf(settings)),
    async close() {
      await storageScp?.close();
      await pool.close();
      await store.close();
    },
  };
}
