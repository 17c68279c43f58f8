import { StorageScp, type RefusedEvent, type StoreDestination } from '../dimse-bridge/storage-scp.js';
import type { InstanceStore } from '../cache/instance-store.js';
import type { GatewayConfig } from '../config/schema.js';
import { scpTlsOptions } from '../config/tls.js';
import { IMPLEMENTATION } from '../dicom/uid.js';
import type { Logger } from '../logger.js';

export interface StorageScpHooks {
  /** A C-STORE the Storage SCP refused (for the audit trail), and the SCP's address as `AE@host:port`. */
  onStoreRefused(event: RefusedEvent, scpAddress: string): void;
  /** When the Storage SCP cannot listen: the error to report (naming the config key). */
  listenProblem(err: unknown): unknown;
  logger: Logger;
}

/** The tenant's Storage SCP as `dimse` configures it, listening, its arrivals going to `destination`. */
export async function listenStorageScp(
  dimse: GatewayConfig['dimse'],
  store: InstanceStore,
  destination: StoreDestination,
  hooks: StorageScpHooks,
  storedLogLevel: 'info' | 'debug' = 'debug',
): Promise<StorageScp> {
  const tls = scpTlsOptions({ dimse });
  const scp: StorageScp = new StorageScp({
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
    destination,
    onRefused: (event) => hooks.onStoreRefused(event, `${dimse.aeTitle}@${dimse.host}:${scp.port}`),
    ...(tls ? { tls } : {}),
    logger: hooks.logger,
    storedLogLevel,
  });
  try {
    await scp.listen();
  } catch (err) {
    throw hooks.listenProblem(err);
  }
  return scp;
}
