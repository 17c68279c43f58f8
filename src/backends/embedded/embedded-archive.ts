import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { FormatError } from '../../sqlite-format.js';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  describeScope,
  withMatches,
  type IncomingDataset,
  type StoreStatus,
  type StoredMetadata,
  type Archive,
  type CatalogInstance,
  type HeldInstance,
  type InstanceStream,
  type RetrieveScope,
  type SearchRequest,
  type SearchResults,
} from '../../archive/archive.js';
import {
  commandMismatch,
  type StorageScp,
  type StoreAdmission,
  type StoreDestination,
  type StoreRequest,
  type StoredEvent,
} from '../../dimse-bridge/storage-scp.js';
import { Status } from '../../dicom/status.js';
import { STORAGE_SOP_CLASSES } from '../../dimse-bridge/sop-classes.js';
import { STORABLE_TRANSFER_SYNTAXES } from '../../dicom/transfer-syntax.js';
import { InstanceStore } from '../../cache/instance-store.js';
import { receiveInstance, type StoreRefusal } from '../../cache/instance-receiver.js';
import type { GatewayConfig } from '../../config/schema.js';
import { readPart10Header } from '../../dicom/part10-reader.js';
import { toDicomJson } from '../../dicom/json-model.js';
import { PIXEL_DATA_TAGS, tag, tagToHex } from '../../dicom/tag.js';
import { ArchiveError } from '../../archive/archive-error.js';
import type { CallOptions } from '../../archive/cancellation.js';
import { abortReason, abortable } from '../../abort.js';
import { silentLogger, type Logger } from '../../logger.js';
import { listenStorageScp, type StorageScpHooks } from '../storage-scp-from-config.js';
import { ArchiveIndex, type IndexedInstance } from './archive-index.js';
import { GroupCommit } from './group-commit.js';
import { IndexWriter } from './index-writer.js';
import { archivedInstanceFrom } from '../../archive/archived-instance.js';
import { searchArchive } from './archive-search.js';
import { catalogOf } from '../../archive/catalog.js';

export interface EmbeddedArchiveSettings {
  /** Instances under `{dir}/instances`, the index in `{dir}/index.sqlite` (rebuilt from the files when absent or damaged). */
  dir: string;
  /** A SOP Instance UID stored again: keep the archived copy, or replace it. */
  duplicates: 'keep' | 'replace';
  /** No instance is taken while the disk has less free space than this (A700). */
  minFreeBytes: number;
  /** Binary values up to this size are kept inline in the stored metadata, larger ones as BulkDataURIs (wado.bulkDataThreshold). */
  inlineBinaryMaxBytes: number;
}

/** PS3.4 §B.2.3 Refused: SOP Class not supported. */
const SOP_CLASS_NOT_SUPPORTED = Status.SOPClassNotSupported;

const MODALITY = tagToHex(tag(0x0008, 0x0060));

/**
 * The gateway as an archive of its own (no PACS): instances that modalities send to the Storage SCP are written
 * durably (fdatasync, rename, directory sync), indexed in SQLite in one transaction, and only then acknowledged;
 * QIDO, WADO and rendering read from it as they read from a PACS behind the gateway.
 */
export class EmbeddedArchive implements Archive, StoreDestination {
  /** How messages name this archive. */
  readonly name = 'the embedded archive';
  private scp: StorageScp | undefined;
  private readonly log: Logger;

  /** Index rows of instances whose files are durable, committed together by the writer thread (group-commit.ts). */
  private readonly commits: GroupCommit<IndexedInstance>;

  /** Instances archived: counted once at start, then by the commits (a COUNT(*) of 1,000,000 rows takes 7–18 ms, seconds cold). */
  private held: number;

  private constructor(
    private readonly settings: EmbeddedArchiveSettings,
    readonly index: ArchiveIndex,
    readonly store: InstanceStore,
    private readonly writer: IndexWriter,
    logger: Logger,
  ) {
    this.log = logger.child({ component: 'archive' });
    this.held = index.instanceCount;
    const counted = async (rows: readonly IndexedInstance[]): Promise<void> => {
      this.held += await writer.commit(rows);
    };
    this.commits = new GroupCommit(counted, (one) => counted([one]));
  }

  /** Instances in the archive (readiness, metrics), without a query. */
  get instanceCount(): number {
    return this.held;
  }

  /**
   * Opens (or creates) the archive under `settings.dir`. The index is the truth at start; one that is missing while
   * files are there, or that fails its check, is rebuilt from the files (the damaged one kept aside), said in the log.
   */
  static async open(settings: EmbeddedArchiveSettings, logger: Logger = silentLogger): Promise<EmbeddedArchive> {
    mkdirSync(settings.dir, { recursive: true });
    const file = indexFile(settings.dir);
    const store = new InstanceStore(settings.dir, { minFreeBytes: settings.minFreeBytes });
    await store.init();
    // The archive has one writer (this process): what a crash left half-received is nobody's.
    await store.removeLeftovers();
    let index: ArchiveIndex | undefined;
    let problem: string | undefined;
    if (!existsSync(file) && archivedFiles(settings.dir).length > 0) problem = 'the index is missing';
    else {
      try {
        index = new ArchiveIndex(file);
        index.check();
      } catch (err) {
        index?.close();
        if (err instanceof FormatError) throw err; // a newer version's index: not damaged, and not ours to rebuild
        index = undefined;
        problem = `the index is damaged (${(err as Error).message})`;
        const aside = `${file}.damaged-${Date.now()}`;
        renameSync(file, aside);
        rmSync(`${file}-wal`, { force: true });
        rmSync(`${file}-shm`, { force: true });
      }
    }
    if (!index) {
      const { instances, skipped } = rebuildIndex(settings.dir, settings.inlineBinaryMaxBytes);
      logger.warn(
        { dir: settings.dir, instances, skipped, reason: problem },
        `${problem}: rebuilt from the archived files`,
      );
      index = new ArchiveIndex(file);
    }
    return new EmbeddedArchive(settings, index, store, new IndexWriter(file), logger);
  }

  /**
   * `dicomweb-gateway reindex`: a new index from the archived files, put in place of the old one at once (the
   * gateway must not be serving this archive meanwhile: one writer).
   */
  static reindex(settings: Pick<EmbeddedArchiveSettings, 'dir' | 'inlineBinaryMaxBytes'>): {
    instances: number;
    skipped: number;
  } {
    return rebuildIndex(settings.dir, settings.inlineBinaryMaxBytes);
  }

  /** Opens the archive and its Storage SCP (what `dimse` configures), the SCP storing into the archive. */
  static async start(
    settings: EmbeddedArchiveSettings,
    dimse: GatewayConfig['dimse'],
    hooks: StorageScpHooks,
  ): Promise<EmbeddedArchive> {
    const archive = await EmbeddedArchive.open(settings, hooks.logger);
    try {
      // What a modality stores here is the archive's to keep: one info line each.
      archive.scp = await listenStorageScp(dimse, archive.store, archive, hooks, 'info');
    } catch (err) {
      await archive.close();
      throw err;
    }
    return archive;
  }

  /** The Storage SCP, when the archive was started with one. */
  get storageScp(): StorageScp | undefined {
    return this.scp;
  }

  /**
   * Ingest (PS3.4 §B.2.3): the SCP has checked the context and the command's UIDs; a SOP Instance UID already
   * archived follows `archive.duplicates` — `keep` answers Success and discards the new copy (as the source
   * statements' MI archive does), `replace` archives the new one in its place.
   */
  admitStore(request: StoreRequest): StoreAdmission {
    return {
      verify: async (arrived) =>
        this.settings.duplicates === 'keep' && this.index.has(arrived.sopInstanceUid)
          ? {
              status: Status.Success,
              comment: `SOP Instance ${request.sopInstanceUid} is already archived; the archived copy is kept`,
            }
          : undefined,
      stored: (stored) => this.ingest(stored),
    };
  }

  /**
   * One instance from another inlet than the Storage SCP (STOW-RS, an import): the same checks, the same durable
   * write and index, the same statuses.
   */
  async storeInstance(incoming: IncomingDataset): Promise<StoreStatus> {
    // What the Storage SCP decides at association negotiation (PS3.4 §B.2.3), decided here per instance.
    const refusal: StoreStatus | undefined = !STORAGE_SOP_CLASSES.has(incoming.sopClassUid)
      ? {
          status: SOP_CLASS_NOT_SUPPORTED,
          comment: `${incoming.sopClassUid} is not a storage SOP class this archive keeps`,
        }
      : !STORABLE_TRANSFER_SYNTAXES.includes(incoming.transferSyntaxUid)
        ? {
            status: Status.UnableToProcess,
            comment: `transfer syntax ${incoming.transferSyntaxUid} is not one the archive reads`,
          }
        : undefined;
    if (refusal) {
      for await (const chunk of incoming.dataset) void chunk; // read to its end: the inlet goes on to the next
      return refusal;
    }
    const admission = this.admitStore({
      sopClassUid: incoming.sopClassUid,
      sopInstanceUid: incoming.sopInstanceUid,
      callingAeTitle: incoming.source,
      peerAddress: '',
    });
    if ('refusal' in admission) return admission.refusal;
    const receiver = receiveInstance(
      this.store,
      { ...incoming, sourceAeTitle: incoming.source },
      {
        verify: async (arrived) => {
          const own = incoming.verify?.(arrived);
          return (
            commandMismatch(incoming, arrived) ??
            (own ? { status: own.status, comment: own.comment ?? '' } : undefined) ??
            (await admission.verify?.(arrived))
          );
        },
      },
    );
    try {
      for await (const chunk of incoming.dataset) await receiver.write(chunk);
    } catch (err) {
      await receiver.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    const outcome = await receiver.finish();
    if (!('stored' in outcome)) return outcome.status === Status.Success ? { status: Status.Success } : outcome;
    return (await this.ingest({ ...outcome.stored, callingAeTitle: incoming.source })) ?? { status: Status.Success };
  }

  /** Indexes a durable file; if that fails the file goes too, so that neither half of an instance remains. */
  private async ingest(stored: StoredEvent): Promise<StoreRefusal | undefined> {
    try {
      await this.commits.add(indexedInstanceOf(stored.path, stored.bytes, this.settings.inlineBinaryMaxBytes));
      return undefined;
    } catch (err) {
      await unlink(stored.path).catch(() => {});
      const full = (err as { code?: string }).code === 'SQLITE_FULL';
      this.log.error(
        { err: (err as Error).message, sop: stored.sopInstanceUid },
        'instance could not be indexed; its file was removed',
      );
      return full
        ? { status: Status.OutOfResources, comment: 'the archive index has no space left' }
        : { status: Status.UnableToProcess, comment: `the instance could not be indexed: ${(err as Error).message}` };
    }
  }

  /**
   * The index is read on the turn after the first `next()`: its query is synchronous, and a caller that starts
   * several searches at once (several archives) gets the others' requests on the wire before it runs.
   */
  search(request: SearchRequest, options: CallOptions = {}): SearchResults {
    const { signal } = options;
    return withMatches(searchArchive(this.index, request), (matches) => abortable(afterThisTurn(matches), signal));
  }

  async open(scope: RetrieveScope, options: CallOptions = {}): Promise<InstanceStream> {
    const { signal } = options;
    const instances = this.index.instancesIn(scope);
    if (instances.length === 0)
      throw new ArchiveError('not-found', `${describeScope(scope)} is not in the archive`, {}, this.name);
    const state = { missing: 0 };
    const hold = (): (() => void) => () => {};
    return {
      fromCache: true,
      failedSubOperations: 0,
      get missing() {
        return state.missing;
      },
      async *[Symbol.asyncIterator](): AsyncGenerator<HeldInstance> {
        for (const instance of instances) {
          if (signal?.aborted) throw abortReason(signal);
          // A file removed behind the archive's back is counted, not served as an error mid-stream.
          if (!existsSync(instance.path)) {
            state.missing++;
            continue;
          }
          // Archived files are replaced by rename, never rewritten: a reader keeps what it opened, no hold needed.
          yield { instance, release: hold(), holdAgain: hold };
        }
      },
    };
  }

  /** Each instance's DICOM JSON as extracted at ingest (no file is read), BulkDataURIs relative to the instance. */
  async storedMetadata(scope: RetrieveScope): Promise<StoredMetadata[]> {
    const found = this.index.metadataIn(scope);
    if (found.length === 0)
      throw new ArchiveError('not-found', `${describeScope(scope)} is not in the archive`, {}, this.name);
    return found;
  }

  async catalog(scope: RetrieveScope): Promise<CatalogInstance[][]> {
    return catalogOf(this.index.instancesIn(scope));
  }

  /** Nothing it serves is remote: a scope it does not hold is a 404 at no one's cost. */
  holdsLocally(): boolean {
    return true;
  }

  /** Whether it holds any instance of the scope (beside other archives, which it answers for). */
  holds(scope: RetrieveScope): boolean {
    return this.index.holds(scope);
  }

  async readiness(): Promise<Record<string, unknown>> {
    try {
      this.index.statement('SELECT 1 FROM instances LIMIT 1').get(); // the index can still be read
      return { archive: { instances: this.held } };
    } catch (err) {
      throw new ArchiveError('not-ready', `its index cannot be read: ${(err as Error).message}`, {}, this.name);
    }
  }

  async close(): Promise<void> {
    await this.scp?.close();
    await this.store.close();
    await this.commits.drained();
    await this.writer.close();
    this.index.close();
  }
}

const indexFile = (dir: string): string => path.join(dir, 'index.sqlite');

/** The archived Part 10 files under `dir` (not the ones still being received). */
function archivedFiles(dir: string): string[] {
  const instances = path.join(dir, 'instances');
  if (!existsSync(instances)) return [];
  return readdirSync(instances, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.dcm'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Indexes every archived file into a new index that then replaces the old one (a file that does not parse is skipped). */
function rebuildIndex(dir: string, inlineBinaryMaxBytes: number): { instances: number; skipped: number } {
  const file = indexFile(dir);
  const building = `${file}.rebuilding`;
  for (const f of [building, `${building}-wal`, `${building}-shm`]) rmSync(f, { force: true });
  const index = new ArchiveIndex(building);
  let instances = 0;
  let skipped = 0;
  try {
    for (const f of archivedFiles(dir)) {
      let indexed: IndexedInstance;
      try {
        indexed = indexedInstanceOf(f, statSync(f).size, inlineBinaryMaxBytes);
      } catch {
        skipped++;
        continue;
      }
      index.add(indexed);
      instances++;
    }
    index.db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    index.close();
  }
  for (const f of [`${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  renameSync(building, file);
  return { instances, skipped };
}

/** What the index records of a Part 10 file: its UIDs and numbers, and its DICOM JSON with relative BulkDataURIs. */
function indexedInstanceOf(file: string, bytes: number, inlineBinaryMaxBytes: number): IndexedInstance {
  const header = readPart10Header(file, inlineBinaryMaxBytes);
  const metadata = toDicomJson(header.dataset, {
    inlineBinaryMaxBytes,
    bulkDataUri: (p) => `bulkdata/${p}`,
    alwaysBulk: PIXEL_DATA_TAGS,
  });
  const modality = metadata[MODALITY]?.Value?.[0];
  return {
    ...archivedInstanceFrom(header, file, bytes),
    metadata,
    modality: typeof modality === 'string' ? modality : '',
  };
}

/** The same matches, the first read on the event loop's next turn. */
async function* afterThisTurn<T>(matches: AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
  await nextTurn();
  yield* matches;
}
