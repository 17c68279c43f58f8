import path from 'node:path';
import {
  withMatches,
  type Archive,
  type CatalogInstance,
  type IncomingDataset,
  type InstanceStream,
  type RetrieveScope,
  type SearchRequest,
  type SearchResults,
  type StoreStatus,
} from '../../archive/archive.js';
import type { CodecPool } from '../../codecs/codec-pool.js';
import type { Logger } from '../../logger.js';
import type { PacsObserver } from './pacs-peer.js';
import type { AssociationBudget } from '../../shared-state/association-budget.js';
import { AssociationPool } from '../../dimse-bridge/association-pool.js';
import type { StorageScp } from '../../dimse-bridge/storage-scp.js';
import type { StorageScpHooks } from '../storage-scp-from-config.js';
import { RetrievalHub } from '../retrieval-hub.js';
import { statusHex } from '../../dicom/status.js';
import type { InstanceCache } from '../../cache/instance-cache.js';
import { pacsTlsOptions } from '../../config/tls.js';
import type { GatewayConfig } from '../../config/schema.js';
import { IMPLEMENTATION } from '../../dicom/uid.js';
import { toGatewayError } from '../../errors.js';
import { PooledPacsPeer } from './pacs-connection.js';
import { DimseSearch } from './search.js';
import { MoveMediator } from './move-mediator.js';
import { mappedErrors, mappedIteration } from './archive-errors.js';
import { ArchiveError } from '../../archive/archive-error.js';
import { deadline, type CallOptions } from '../../archive/cancellation.js';
import { abortable, eitherSignal, untilAborted } from '../../abort.js';
import { StoreForwarder } from './store-forwarder.js';
import { probePacs, probeTargetOf, type PacsCapabilities } from './pacs-probe.js';
import { PacsCapabilityWatch } from './pacs-capabilities.js';

/** What the DIMSE back end of one tenant is configured with. */
export interface DimseArchiveSettings {
  pacs: GatewayConfig['pacs'];
  dimse: GatewayConfig['dimse'];
  cache: GatewayConfig['cache'];
  qido: Pick<GatewayConfig['qido'], 'maxFanOutStudies'>;
  /** Transcodes an instance the PACS will not take as stored (STOW-RS forwarding). */
  codecs: CodecPool;
  /** Told when each C-FIND and retrieval ends (metrics). */
  observer?: PacsObserver;
  /** The PACS's association budget shared with other replicas (absent: `pacs.maxAssociations` per process). */
  budget?: AssociationBudget | undefined;
}

export type DimseArchiveHooks = StorageScpHooks;

/** Associations to the tenant's PACS, as configured (`pacs.*`, calling as `dimse.aeTitle`). */
export function pacsAssociationPool(
  settings: Pick<DimseArchiveSettings, 'pacs' | 'dimse' | 'budget'>,
  log: Logger,
): AssociationPool {
  const { pacs, dimse } = settings;
  const pacsTls = pacsTlsOptions(settings);
  return new AssociationPool({
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
    ...(settings.budget ? { budget: settings.budget } : {}),
    logger: log,
  });
}

/**
 * Instances stored into the PACS from outside a running gateway (`dicomweb-gateway import`): C-STORE only, no
 * Storage SCP and no cache, so it can run beside the gateway.
 */
export async function openPacsStore(
  settings: Pick<DimseArchiveSettings, 'pacs' | 'dimse' | 'cache' | 'codecs'>,
  log: Logger,
): Promise<{ store(incoming: IncomingDataset): Promise<StoreStatus>; close(): Promise<void> }> {
  const pool = pacsAssociationPool(settings, log);
  const forwarder = new StoreForwarder(
    pool,
    path.join(settings.cache.dir, `import-spool-${process.pid}`),
    settings.codecs,
    log,
  );
  return {
    store: (incoming) => mappedErrors(forwarder.store(incoming), pacsName(settings.pacs)),
    close: async () => {
      await pool.close();
      forwarder.close();
    },
  };
}

/**
 * A PACS behind the gateway, reached over DIMSE: QIDO by hierarchical C-FIND (search.ts), WADO by C-MOVE into
 * our Storage SCP or by C-GET, mediated into a bounded disk cache (move-mediator.ts), STOW-RS by C-STORE
 * (store-forwarder.ts), readiness by C-ECHO.
 * DIMSE failures leave it as the archive errors they mean, naming the PACS (archive-errors.ts).
 */
export class DimseArchive implements Archive {
  /** How messages name this archive: "PACS ORTHANC". */
  readonly name: string;

  private constructor(
    pacs: { aeTitle: string },
    readonly peer: PooledPacsPeer,
    /** The cache and Storage SCP it retrieves into, shared with the tenant's other PACS. */
    private readonly hub: RetrievalHub,
    /** Whether it opened the hub (one PACS) and closes it, or shares the tenant's. */
    private readonly ownsHub: boolean,
    readonly mediator: MoveMediator,
    private readonly finder: DimseSearch,
    private readonly forwarder: StoreForwarder,
    private readonly echoTimeoutMs: number,
    /** The longest a whole search may take (pacs.searchTimeoutMs). */
    private readonly searchTimeoutMs: number,
    /** The PACS as last probed; with `pacs.retrieve: auto`, what chooses C-GET or C-MOVE. */
    readonly capabilities: PacsCapabilityWatch,
  ) {
    this.name = pacsName(pacs);
  }

  get cache(): InstanceCache {
    return this.hub.cache;
  }

  /** Absent when `dimse.listen` is off (C-GET needs none). */
  get storageScp(): StorageScp | undefined {
    return this.hub.storageScp;
  }

  /**
   * One PACS, retrieved into `hub` when the tenant shares one between several (its Storage SCP listens once every
   * PACS is routed), else into a cache and Storage SCP of its own, listening when this returns.
   */
  static async start(
    settings: DimseArchiveSettings,
    hooks: DimseArchiveHooks,
    shared?: RetrievalHub,
  ): Promise<DimseArchive> {
    const { pacs, dimse } = settings;
    const log = hooks.logger;
    const hub = shared ?? (await RetrievalHub.open(settings.cache, dimse, log));
    const pool = pacsAssociationPool(settings, log);
    const { observer } = settings;
    const peer = new PooledPacsPeer(pool, {
      retrieve: pacs.retrieve === 'get' ? 'get' : 'move',
      moveDestination: dimse.aeTitle,
      cancelGraceMs: Math.min(pacs.retrieveTimeoutMs, 5000),
      ...(observer ? { observer } : {}),
    });
    const mediator = new MoveMediator(peer, hub.cache, hub.store, {
      idleTimeoutMs: pacs.retrieveTimeoutMs,
      storageScp: hub.scpAddress,
      logger: log,
      ...(observer ? { observer } : {}),
    });
    // Only instances of retrievals this tenant started are stored, and reach the requests waiting.
    hub.route(pacs.aeTitle, mediator);
    if (!shared) {
      try {
        await hub.listen(hooks);
      } catch (err) {
        await pool.close();
        await hub.close();
        throw err;
      }
    }
    const echoTimeoutMs = Math.min(pacs.connectTimeoutMs + pacs.artimTimeoutMs, 10_000);
    const forwarder = new StoreForwarder(
      pool,
      // Several PACS share the cache directory: each spools apart.
      path.join(
        settings.cache.dir,
        shared ? `stow-spool-${pacs.aeTitle.trim().replace(/[^\w.-]/g, '_')}` : 'stow-spool',
      ),
      settings.codecs,
      log.child({ component: 'store-forwarder' }),
    );
    // The probe's C-MOVE goes to our Storage SCP, which admits the one instance it asks for (and caches it).
    const receiver = dimse.listen
      ? mediator.probeReceiver()
      : { unavailable: 'dimse.listen is off: no Storage SCP to receive it' };
    const capabilities = new PacsCapabilityWatch(
      () => probePacs(probeTargetOf(settings), receiver),
      peer,
      pacs.retrieve === 'auto',
      log,
    );
    return new DimseArchive(
      pacs,
      peer,
      hub,
      !shared,
      mediator,
      new DimseSearch(peer, settings.qido),
      forwarder,
      echoTimeoutMs,
      pacs.searchTimeoutMs,
      capabilities,
    );
  }

  /** A search within `pacs.searchTimeoutMs` (every C-FIND of its fan-out), or sooner when the caller aborts. */
  search(request: SearchRequest, options: CallOptions = {}): SearchResults {
    const signal = eitherSignal(options.signal, deadline(this.searchTimeoutMs, this.name, 'search'));
    return withMatches(this.finder.search(request, signal), (matches) =>
      mappedIteration(abortable(matches, signal), this.name),
    );
  }

  /** Probes the PACS now (pacs-probe.ts): recorded for /admin/pacs, and with `pacs.retrieve: auto` applied. */
  probe(): Promise<PacsCapabilities> {
    return this.capabilities.probe();
  }

  async open(scope: RetrieveScope, options: CallOptions = {}): Promise<InstanceStream> {
    const { signal } = options;
    await untilAborted(this.capabilities.beforeRetrieval(), signal);
    // Aborted before the retrieval answered: the stream that comes later is let go unread.
    const letGo = (late: InstanceStream): void => void late[Symbol.asyncIterator]().return?.();
    const stream = await untilAborted(mappedErrors(this.mediator.open(scope), this.name), signal, letGo);
    return {
      get fromCache() {
        return stream.fromCache;
      },
      get missing() {
        return stream.missing;
      },
      get failedSubOperations() {
        return stream.failedSubOperations;
      },
      [Symbol.asyncIterator]: () => mappedIteration(abortable(stream, signal), this.name)[Symbol.asyncIterator](),
    };
  }

  catalog(scope: RetrieveScope): Promise<CatalogInstance[][]> {
    return mappedErrors(this.mediator.contents(scope), this.name);
  }

  /** STOW-RS and import in front of a PACS: forwarded by C-STORE, the PACS's status answered (store-forwarder.ts). */
  storeInstance(incoming: IncomingDataset): Promise<StoreStatus> {
    return mappedErrors(this.forwarder.store(incoming), this.name);
  }

  holdsLocally(scope: RetrieveScope): boolean {
    return this.mediator.holdsLocally(scope);
  }

  /** Ready when the PACS answers C-ECHO with Success in time (its round trip is reported). */
  async readiness(): Promise<Record<string, unknown>> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ArchiveError('not-ready', `no C-ECHO answer within ${this.echoTimeoutMs} ms`, {}, this.name)),
        this.echoTimeoutMs,
      );
    });
    try {
      const echo = await Promise.race([mappedErrors(this.peer.echo(), this.name), timeout]);
      if (echo.status !== 0) {
        const status = statusHex(echo.status);
        throw new ArchiveError(
          'not-ready',
          `C-ECHO answered with status ${status}`,
          { dimseStatus: status },
          this.name,
        );
      }
      return { pacs: { echo: 'success', roundTripMs: Math.round(echo.roundTripMs * 100) / 100 } };
    } catch (err) {
      // Not ready, whatever failed: the reason, and what the failure would have been for a request.
      if (err instanceof ArchiveError && err.kind === 'not-ready') throw err;
      const cause = toGatewayError(err);
      throw new ArchiveError(
        'not-ready',
        err instanceof Error ? err.message : cause.message,
        { cause: cause.code },
        this.name,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.capabilities.settled();
    await this.hub.stopListening();
    await this.mediator.settled();
    await this.peer.close();
    if (this.ownsHub) await this.hub.close();
  }
}

/** How messages name a PACS archive. */
export const pacsName = (pacs: { aeTitle: string }): string => `PACS ${pacs.aeTitle}`;
