import type { FederationMember, GatewayConfig } from './config/schema.js';
import type { AuthConfig } from './auth/from-config.js';
import type { TenantScope } from './auth/tenant-scope.js';
import type { EmbeddedArchiveSettings } from './backends/embedded/embedded-archive.js';

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
  /** Several archives behind the tenant (`pacs` as a list), by priority; empty for one archive. */
  members: readonly FederationMember[];
  /** The member STOW-RS stores into, by name (a federation only). */
  stowTarget: string | undefined;
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
      members: config.members,
      stowTarget: config.stowTarget,
      dimse: config.dimse,
      auth: config.auth,
      cache: config.cache,
    },
    ...Object.entries(config.tenants).map(([id, t]) => ({ id, basePath: `${base}/tenants/${id}`, ...t })),
  ];
}

export const scopeOf = (t: TenantSettings): TenantScope =>
  t.id === DEFAULT_TENANT ? { base: t.basePath, excluded: `${t.basePath}/tenants` } : { base: t.basePath };

/** The embedded archive of a tenant as configured. */
export const embeddedSettings = (t: TenantSettings, config: GatewayConfig): EmbeddedArchiveSettings => ({
  dir: t.archive.dir,
  duplicates: t.archive.duplicates,
  minFreeBytes: t.dimse.minFreeBytes,
  inlineBinaryMaxBytes: config.wado.bulkDataThreshold,
});
