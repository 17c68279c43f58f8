import type { Archive, IncomingDataset, RetrieveScope, StoreStatus } from '../archive/archive.js';
import type { RetrievalHub } from './retrieval-hub.js';
import type { SharedState } from '../shared-state/shared-state.js';
import type { GatewayConfig } from '../config/schema.js';
import type { CodecPool } from '../codecs/codec-pool.js';
import type { StorageScp } from '../dimse-bridge/storage-scp.js';
import type { Logger } from '../logger.js';
import type { GatewayMetrics, TenantReadings } from '../metrics/gateway-metrics.js';
import type { TenantSettings } from '../tenant-settings.js';
import type { StorageScpHooks } from './storage-scp-from-config.js';

/** A tenant's running archive: what the services use, and its Storage SCP when it listens. */
export type TenantArchive = Archive & { readonly storageScp?: StorageScp | undefined };

/** What a back end is started with beside its tenant's settings. */
export interface BackendContext {
  config: GatewayConfig;
  codecs: CodecPool;
  metrics?: GatewayMetrics | undefined;
  hooks: StorageScpHooks;
  /**
   * As a member of several archives: the tenant's one cache and Storage SCP, which it receives through instead
   * of its own, and the member's name (metrics labels, logs).
   */
  member?: { name: string; hub: RetrievalHub } | undefined;
  /** A PACS's association budget shared by every replica (`redis.url`); absent: each pool's own limit. */
  budgetOf?: SharedState['budgetOf'] | undefined;
}

/** What the operators' `/admin/pacs` says of one PACS. */
export interface PacsReport {
  retrieval: { method: 'move' | 'get'; chosenBy: 'configuration' | 'probe' };
  probe: unknown;
}

/** What `/admin/pacs` says of a tenant: its PACS, or each PACS of a federation by member name. */
export type AdminReport = PacsReport | { members: Record<string, PacsReport> };

/** One C-ECHO (`dicomweb-gateway echo`): its status and times, or why it could not be made. */
export type EchoResult = { target: string } & (
  { status: number; roundTripMs: number; associationMs: number } | { error: string }
);

/** A back end once started: its archive and what it reports beside it. */
export interface RunningBackend {
  archive: TenantArchive;
  /** Where STOW-RS spools the bulk data parts of an application/dicom+json request. */
  spoolDir: string;
  /** What the metrics read of it at each scrape, beside the tenant's own readings. */
  readings(): Pick<TenantReadings, 'pacs' | 'cache' | 'archive'>;
  /** What `/admin/pacs` says of it; absent for a back end that is not a PACS. */
  adminReport?(): AdminReport;
  /** Work started once the gateway listens (probing a PACS); it settles, never rejects. */
  afterListen?(): Promise<void>;
  /**
   * Whether it holds the scope itself, for the archives beside it (default: `archive.holdsLocally`). The
   * embedded archive answers every scope locally, a 404 included, but holds only what its index has.
   */
  holds?(scope: RetrieveScope): boolean;
}

/** Where `dicomweb-gateway import` stores, and how it names it. */
export interface ImportTarget {
  store(incoming: IncomingDataset): Promise<StoreStatus>;
  close(): Promise<void>;
  where: string;
}

/**
 * One kind of back end (`dimse`, `embedded`, `federated`): how it starts from its settings, what it says of itself, and what it
 * offers beside `Archive` to the commands. The composition root and the commands go through the registry
 * (registry.ts), never through a kind's name.
 */
export interface BackendModule {
  /** What serves the tenant, for people: "the PACS ORTHANC@pacs:104", "the embedded archive in ./data/archive". */
  describe(t: TenantSettings): string;
  /** What the ready line names it by. */
  identity(t: TenantSettings): Record<string, string>;
  /** What an operator should hear at start about this configuration. */
  startWarnings(t: TenantSettings): { fields: Record<string, unknown>; message: string }[];
  start(t: TenantSettings, context: BackendContext): Promise<RunningBackend>;
  /** `import`: where the files go. */
  openImportTarget(t: TenantSettings, config: GatewayConfig): Promise<ImportTarget>;
  /** `reindex`: the index rebuilt from the stored files (absent: it keeps no index of its own). */
  reindex?(t: TenantSettings, config: GatewayConfig): { instances: number; skipped: number };
  /** `start` without a configuration: the sample studies stored on the first start (absent: nothing to seed). */
  seedSamples?(t: TenantSettings, config: GatewayConfig): Promise<number | undefined>;
  /** `probe`: what the archive supports, as data and as lines for people (absent: nothing to probe). */
  probe?(t: TenantSettings, log: Logger): Promise<{ report: unknown; text: string }>;
  /** `echo`: a C-ECHO to each PACS, its status and times (absent: nothing to echo). */
  echo?(t: TenantSettings): Promise<EchoResult[]>;
}
