import { InstanceCache } from '../cache/instance-cache.js';
import { InstanceStore } from '../cache/instance-store.js';
import type { GatewayConfig } from '../config/schema.js';
import { Status } from '../dicom/status.js';
import type { StorageScp, StoreAdmission, StoreDestination, StoreRequest } from '../dimse-bridge/storage-scp.js';
import type { Logger } from '../logger.js';
import { listenStorageScp, type StorageScpHooks } from './storage-scp-from-config.js';

/** A PACS's retrievals as the hub routes arrivals to them: by the AE title the PACS sends from. */
interface Route {
  aeTitle: string;
  destination: StoreDestination;
}

/**
 * What every PACS of a tenant retrieves into: one cache on disk and one Storage SCP. Several PACS deliver to
 * that one SCP; each arrival goes to the PACS whose retrieval it belongs to — the PACS calling from its own AE
 * title asked first (a routing hint, not trust: the retrieval it names still decides by Move Originator
 * Message ID or listed SOP Instance UIDs, arrival-admission.ts), then the others. In a tenant that keeps an
 * embedded archive, what no retrieval claims is offered to the archive, written into its own store.
 */
export class RetrievalHub implements StoreDestination {
  private readonly routes: Route[] = [];
  private keeper: (StoreDestination & { store: InstanceStore }) | undefined;
  private scp: StorageScp | undefined;

  private constructor(
    readonly store: InstanceStore,
    readonly cache: InstanceCache,
    private readonly dimse: GatewayConfig['dimse'],
  ) {}

  /** The cache under `cache.dir`, opened; the Storage SCP listens once `listen` is called. */
  static async open(
    cacheSettings: GatewayConfig['cache'],
    dimse: GatewayConfig['dimse'],
    log: Logger,
  ): Promise<RetrievalHub> {
    // The PACS keeps the data: the cache syncs a scope's files once, when it records the scope complete.
    const store = new InstanceStore(cacheSettings.dir, { minFreeBytes: dimse.minFreeBytes, syncEach: false });
    const cache = new InstanceCache(store, cacheSettings.maxBytes, log);
    await cache.open();
    return new RetrievalHub(store, cache, dimse);
  }

  /** Our Storage SCP as a PACS must know it (the port as bound once it listens). */
  get scpAddress(): { aeTitle: string; host: string; port: number } {
    const { dimse } = this;
    const scp = (): StorageScp | undefined => this.scp;
    return {
      aeTitle: dimse.aeTitle,
      host: dimse.host,
      get port(): number {
        return scp()?.port ?? dimse.port;
      },
    };
  }

  get storageScp(): StorageScp | undefined {
    return this.scp;
  }

  /** The retrievals of the PACS that sends as `aeTitle`. */
  route(aeTitle: string, destination: StoreDestination): void {
    this.routes.push({ aeTitle, destination });
  }

  /** The embedded archive, which keeps what modalities send (anything no retrieval claims). */
  keepArrivalsIn(keeper: StoreDestination & { store: InstanceStore }): void {
    this.keeper = keeper;
  }

  admitStore(request: StoreRequest): StoreAdmission {
    const ordered = [
      ...this.routes.filter((r) => r.aeTitle === request.callingAeTitle),
      ...this.routes.filter((r) => r.aeTitle !== request.callingAeTitle),
    ];
    let refused: StoreAdmission | undefined;
    for (const { destination } of ordered) {
      const admission = destination.admitStore(request);
      if (!('refusal' in admission)) return admission;
      refused ??= admission;
    }
    if (this.keeper) {
      const admission = this.keeper.admitStore(request);
      return 'refusal' in admission ? admission : { ...admission, store: this.keeper.store };
    }
    return refused ?? { refusal: { status: Status.NotAuthorized, comment: 'no archive of this gateway takes it' } };
  }

  /** Starts the Storage SCP when `dimse.listen` asks for one. */
  async listen(hooks: StorageScpHooks): Promise<void> {
    if (!this.dimse.listen) return;
    // An archive's arrivals are the gateway's to keep: an operator follows them at info.
    this.scp = await listenStorageScp(this.dimse, this.store, this, hooks, this.keeper ? 'info' : 'debug');
  }

  /** No more arrivals: the Storage SCP closes (its associations finish or are aborted). */
  async stopListening(): Promise<void> {
    await this.scp?.close();
  }

  /** Once every PACS closed its retrievals: the cache's files and index. */
  async close(): Promise<void> {
    await this.stopListening();
    await this.store.close();
    this.cache.close();
  }
}
