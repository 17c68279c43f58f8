import { readdirSync, rmSync, statSync } from 'node:fs';
import { readPart10Header } from '../dicom/part10-reader.js';
import path from 'node:path';
import type { InstanceStore, StoredInstance } from './instance-store.js';
import { archivedInstanceOf } from '../archive/archived-instance.js';
import type { Logger } from '../logger.js';
import type { ArchivedInstance } from '../archive/archive.js';
import { silentLogger } from '../logger.js';
import { CacheIndex, type Completeness } from './cache-index.js';

/** A cached file that is as long as when it arrived and parses to its end (part10-reader checks every length). */
function isWhole(entry: CachedInstance): boolean {
  try {
    return (
      statSync(entry.path).size === entry.bytes &&
      readPart10Header(entry.path).meta.sopInstanceUid === entry.sopInstanceUid
    );
  } catch {
    return false;
  }
}

/** A cache entry is an archived instance: a Part 10 file on disk (archive/archive.ts). */
export type CachedInstance = ArchivedInstance;

/**
 * What the instance store holds, in LRU order, bounded in bytes. A series (study) counts as complete only when
 * a retrieval of it finished with every instance the PACS listed and no failed sub-operation; evicting any of
 * its instances makes it incomplete again. Pinned instances (being read) are never evicted.
 */
export class InstanceCache {
  /** Map iteration order is insertion order: touching re-inserts, so the first entries are least recently used. */
  private readonly instances = new Map<string, CachedInstance>();
  private readonly pins = new Map<string, number>();
  private completeness: Completeness = { series: {}, studies: {} };
  private total = 0;
  private index: CacheIndex | undefined;
  private readonly log: Logger;

  constructor(
    readonly store: InstanceStore,
    readonly maxBytes: number,
    logger?: Logger,
  ) {
    this.log = (logger ?? silentLogger).child({ component: 'cache' });
  }

  /** Instances and bytes evicted since start (metrics). */
  readonly evictions = { instances: 0, bytes: 0 };

  get totalBytes(): number {
    return this.total;
  }

  get size(): number {
    return this.instances.size;
  }

  /**
   * Loads the index (cache-index.sqlite): rows whose file is still there, in LRU order; files without a row (a
   * crash lost it, or the cache predates the index) are parsed and added; then completeness, kept only for scopes
   * whose every instance is here.
   */
  async open(): Promise<void> {
    await this.store.init();
    await this.store.removeLeftovers();
    const index = new CacheIndex(path.join(this.store.root, 'cache-index.sqlite'));
    this.index = index;
    const dir = path.join(this.store.root, 'instances');
    const onDisk = new Set<string>();
    for (const shard of readdirSync(dir)) {
      for (const name of readdirSync(path.join(dir, shard)))
        if (name.endsWith('.dcm')) onDisk.add(path.join(dir, shard, name));
    }
    const gone: string[] = [];
    const loaded = index.completeness();
    // Files of a scope recorded complete were synced before it was recorded; any other may have lost its tail in a
    // power cut (its syncs are deferred): it stays only if its size is the one recorded and it parses to its end.
    const vouched = new Set(Object.values(loaded.series).flatMap((s) => s.instances));
    let checked = 0;
    for (const entry of index.instances()) {
      if (!onDisk.delete(entry.path)) {
        gone.push(entry.sopInstanceUid);
        continue;
      }
      if (!vouched.has(entry.sopInstanceUid)) {
        checked++;
        if (!isWhole(entry)) {
          this.log.warn({ file: entry.path }, 'cached file not whole (cut short by a crash?): removed');
          rmSync(entry.path, { force: true });
          gone.push(entry.sopInstanceUid);
          continue;
        }
      }
      this.remember(entry);
    }
    index.remove(gone);
    let parsed = 0;
    for (const file of onDisk) {
      try {
        this.index.add(this.remember(archivedInstanceOf(file)));
        parsed++;
      } catch (err) {
        this.log.warn({ file, err: (err as Error).message }, 'unreadable cached file removed');
        rmSync(file, { force: true });
      }
    }
    for (const [uid, s] of Object.entries(loaded.series))
      if (s.instances.every((i) => this.instances.has(i))) this.completeness.series[uid] = s;
    for (const [uid, series] of Object.entries(loaded.studies))
      if (series.every((s) => this.completeness.series[s])) this.completeness.studies[uid] = series;
    // The JSON record of earlier versions: its scopes are retrieved once more.
    rmSync(path.join(this.store.root, 'completeness.json'), { force: true });
    this.log.info(
      {
        instances: this.instances.size,
        bytes: this.total,
        parsed,
        checked,
        dropped: gone.length,
        completeSeries: Object.keys(this.completeness.series).length,
      },
      'cache index loaded',
    );
    this.evict();
  }

  /** Closes the index (the files stay). */
  close(): void {
    this.index?.close();
    this.index = undefined;
  }

  /**
   * Indexes an instance that has just been written durably. It does not evict: the caller first pins the new
   * instance for whoever waits for it, then calls `evict()` — else a tiny budget could remove it unread.
   */
  add(stored: StoredInstance): CachedInstance {
    const { arrived } = stored;
    if (!arrived) return this.indexFile(stored.path);
    // Verified on arrival: its header was read then (the command's UIDs equal the dataset's).
    return this.record({
      sopInstanceUid: stored.sopInstanceUid,
      sopClassUid: stored.sopClassUid,
      transferSyntaxUid: stored.transferSyntaxUid,
      studyInstanceUid: arrived.studyInstanceUid,
      seriesInstanceUid: arrived.seriesInstanceUid,
      seriesNumber: arrived.seriesNumber,
      instanceNumber: arrived.instanceNumber,
      path: stored.path,
      bytes: stored.bytes,
    });
  }

  private indexFile(file: string): CachedInstance {
    return this.record(archivedInstanceOf(file));
  }

  /** In memory and in the index. */
  private record(entry: CachedInstance): CachedInstance {
    this.remember(entry);
    this.index?.add(entry);
    return entry;
  }

  private remember(entry: CachedInstance): CachedInstance {
    const previous = this.instances.get(entry.sopInstanceUid);
    if (previous) {
      this.total -= previous.bytes;
      this.instances.delete(entry.sopInstanceUid);
    }
    this.instances.set(entry.sopInstanceUid, entry);
    this.total += entry.bytes;
    return entry;
  }

  /** The instance if cached, without marking it used. */
  peek(sopInstanceUid: string): CachedInstance | undefined {
    return this.instances.get(sopInstanceUid);
  }

  /** The instance if cached, marked as recently used. */
  get(sopInstanceUid: string): CachedInstance | undefined {
    const entry = this.instances.get(sopInstanceUid);
    if (entry) {
      this.instances.delete(sopInstanceUid);
      this.instances.set(sopInstanceUid, entry);
      this.index?.touch(sopInstanceUid);
    }
    return entry;
  }

  /** Instances some reader holds (a response being written): they cannot be evicted. */
  get pinnedCount(): number {
    return this.pins.size;
  }

  /** Keeps an instance from eviction until the returned function is called. */
  pin(sopInstanceUid: string): () => void {
    this.pins.set(sopInstanceUid, (this.pins.get(sopInstanceUid) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.pins.get(sopInstanceUid) ?? 1) - 1;
      if (n <= 0) this.pins.delete(sopInstanceUid);
      else this.pins.set(sopInstanceUid, n);
      this.evict();
    };
  }

  /** The cached instances of a complete scope, or undefined when the PACS must be asked. */
  completeScope(scope: { study: string; series?: string }): CachedInstance[] | undefined {
    const seriesList = scope.series ? [scope.series] : this.completeness.studies[scope.study];
    if (!seriesList) return undefined;
    const out: CachedInstance[] = [];
    for (const series of seriesList) {
      const record = this.completeness.series[series];
      if (!record || record.study !== scope.study) return undefined;
      for (const sop of record.instances) {
        const entry = this.instances.get(sop);
        if (!entry) return undefined;
        out.push(entry);
      }
    }
    return out;
  }

  /**
   * Records that a retrieval got every instance of these series (and, for a study retrieval, of the study) — once
   * their files are durable: a scope recorded complete is one a crash cannot leave incomplete.
   */
  async markComplete(study: string, series: Record<string, string[]>, wholeStudy: boolean): Promise<void> {
    const files = Object.values(series)
      .flat()
      .map((sop) => this.instances.get(sop)?.path)
      .filter((p): p is string => p !== undefined);
    await this.store.syncFiles(files);
    for (const [uid, instances] of Object.entries(series)) {
      if (instances.every((i) => this.instances.has(i))) this.completeness.series[uid] = { study, instances };
    }
    if (wholeStudy && Object.keys(series).every((s) => this.completeness.series[s]))
      this.completeness.studies[study] = Object.keys(series);
    this.saveCompleteness();
  }

  private saveCompleteness(): void {
    this.index?.saveCompleteness(this.completeness);
  }

  /** Removes least recently used, unpinned instances until the cache fits `maxBytes`. */
  evict(): void {
    if (this.total <= this.maxBytes) return;
    let changed = false;
    const evicted: string[] = [];
    for (const [sop, entry] of this.instances) {
      if (this.total <= this.maxBytes) break;
      if (this.pins.has(sop)) continue;
      this.instances.delete(sop);
      this.total -= entry.bytes;
      rmSync(entry.path, { force: true });
      evicted.push(sop);
      this.evictions.instances++;
      this.evictions.bytes += entry.bytes;
      const series = this.completeness.series[entry.seriesInstanceUid];
      if (series) {
        delete this.completeness.series[entry.seriesInstanceUid];
        delete this.completeness.studies[series.study];
        changed = true;
      }
      this.log.debug({ sop, bytes: entry.bytes }, 'evicted');
    }
    // A crash between the file's removal and this leaves a row whose file is gone: dropped at the next start.
    this.index?.remove(evicted);
    if (changed) this.saveCompleteness();
  }
}
