import type {
  Archive,
  CatalogInstance,
  IncomingDataset,
  InstanceStream,
  RetrieveScope,
  SearchRequest,
  SearchResults,
  StoredMetadata,
  StoreStatus,
} from '../../archive/archive.js';
import { ArchiveError } from '../../archive/archive-error.js';
import type { CallOptions } from '../../archive/cancellation.js';
import type { StorageScp } from '../../dimse-bridge/storage-scp.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { federatedOpen, federatedReadiness, inTryOrder } from './federated-open.js';
import { federatedSearch } from './federated-search.js';

/** One archive of a federation as the federation uses it. */
export interface MemberArchive {
  /** How Warnings, metrics and `/readyz` name it (its configured `name`). */
  name: string;
  priority: number;
  searchTimeoutMs: number;
  archive: Archive;
  /** Whether it holds the scope itself, with no remote work: the retrieval cache, or the embedded archive's index. */
  holds(scope: RetrieveScope): boolean;
  breaker: CircuitBreaker;
}

/** What the members receive through: one Storage SCP, closed before them and released after them. */
export interface SharedReceiver {
  readonly storageScp: StorageScp | undefined;
  stopListening(): Promise<void>;
  close(): Promise<void>;
}

/** How many UIDs the federation remembers the holder of (the member whose search gave them). */
const HOLDERS_KEPT = 100_000;

/**
 * Several archives behind one tenant, searched and retrieved as one (PS3.18 §10.6 over every member at once;
 * merge, de-duplication and failure rules in federated-search.ts and federated-open.ts). A scope is opened where
 * it is held without remote work (the cache, the embedded archive), else at the member whose search gave it,
 * else by priority, each failure giving way to the next member.
 */
export class FederatedArchive implements Archive {
  readonly name = 'the archives of this tenant';
  /** UID (study, series or instance) → the member whose search gave it, oldest forgotten first. */
  private readonly holders = new Map<string, string>();

  constructor(
    readonly members: readonly MemberArchive[],
    /** Where STOW-RS and import store (absent: none of the members takes instances). */
    private readonly storeTarget: MemberArchive | undefined,
    private readonly readyWhen: 'any' | 'all',
    private readonly receiver?: SharedReceiver,
  ) {}

  /** The Storage SCP every member receives through, when one listens. */
  get storageScp(): StorageScp | undefined {
    return this.receiver?.storageScp;
  }

  search(request: SearchRequest, options: CallOptions = {}): SearchResults {
    return federatedSearch(this.members, request, {
      ...options,
      onMatch: (match, member) => {
        for (const uid of [match.uids.study, match.uids.series, match.uids.instance])
          if (uid) this.remember(uid, member);
      },
    });
  }

  open(scope: RetrieveScope, options: CallOptions = {}): Promise<InstanceStream> {
    return federatedOpen(this.members, scope, { ...options, holder: this.holderOf(scope) });
  }

  /** What a study or series holds, from the first member (in retrieval order) that has it. */
  async catalog(scope: RetrieveScope): Promise<CatalogInstance[][]> {
    let firstFailure: unknown;
    for (const member of inTryOrder(this.members, this.holderOf(scope))) {
      try {
        const catalog = await member.archive.catalog(scope);
        if (catalog.some((series) => series.length > 0)) return catalog;
      } catch (err) {
        if (!(err instanceof ArchiveError && err.kind === 'not-found')) firstFailure ??= err;
      }
    }
    if (firstFailure) throw firstFailure;
    return [];
  }

  holdsLocally(scope: RetrieveScope): boolean {
    return this.members.some((m) => m.holds(scope));
  }

  /** The metadata a member keeps at ingest, when the member holding the scope keeps it. */
  async storedMetadata(scope: RetrieveScope): Promise<StoredMetadata[] | undefined> {
    const keeper = this.members.find((m) => m.archive.storedMetadata && m.holds(scope));
    return keeper?.archive.storedMetadata?.(scope);
  }

  /** STOW-RS and import: into the configured target (`stow.target`), else the embedded archive, else the first PACS. */
  async storeInstance(incoming: IncomingDataset): Promise<StoreStatus> {
    const target = this.storeTarget?.archive;
    if (!target?.storeInstance)
      throw new ArchiveError('unsupported', 'no archive of this tenant takes instances', {}, this.name);
    return target.storeInstance(incoming);
  }

  readiness(): Promise<Record<string, unknown>> {
    return federatedReadiness(this.members, this.readyWhen);
  }

  async close(): Promise<void> {
    await this.receiver?.stopListening();
    for (const m of this.members) await m.archive.close();
    await this.receiver?.close();
  }

  private holderOf(scope: RetrieveScope): string | undefined {
    const local = this.members.find((m) => m.holds(scope));
    if (local) return local.name;
    for (const uid of [scope.instance, scope.series, scope.study]) {
      const holder = uid ? this.holders.get(uid) : undefined;
      if (holder) return holder;
    }
    return undefined;
  }

  private remember(uid: string, member: string): void {
    this.holders.delete(uid);
    this.holders.set(uid, member);
    if (this.holders.size > HOLDERS_KEPT) {
      const oldest = this.holders.keys().next();
      if (!oldest.done) this.holders.delete(oldest.value);
    }
  }
}
