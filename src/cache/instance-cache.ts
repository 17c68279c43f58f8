import { readdirSync, readFileSync, writeFileSync, renameSync, rmSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { InstanceStore, StoredInstance } from './instance-store.js';
import { archivedInstanceOf } from '../archive/archived-instance.js';
import type { Logger } from '../logger.js';
import type { ArchivedInstance } from '../archive/archive.js';
import { silentLogger } from '../logger.js';

/** A cache entry is an archived instance: a Part 10 file on disk (archive/archive.ts). */
export type CachedInstance = ArchivedInstance;

interface Completeness {
  /** series UID → study UID and the SOP Instance UIDs the PACS holds for it */
  series: Record<string, { study: string; instances: string[] }>;
  /** study UID → its series */
  studies: Record<string, string[]>;
}

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
  private readonly completenessFile: string;
  private readonly log: Logger;

  constructor(readonly store: InstanceStore, readonly maxBytes: number, logger?: Logger) {
    this.completenessFile = path.join(store.root, 'completeness.json');
    this.log = (logger ?? silentLogger).child({ component: 'cache' });
  }

  get totalBytes(): number {
    return this.total;
  }

  get size(): number {
    return this.instances.size;
  }

  /** Rebuilds the index from the files (their headers name study and series) and reloads completeness. */
  async open(): Promise<void> {
    await this.store.init();
    for (const leftover of readdirSync(path.join(this.store.root, 'incoming'))) rmSync(path.join(this.store.root, 'incoming', leftover), { force: true });
    const dir = path.join(this.store.root, 'instances');
    const found: { file: string; mtime: number }[] = [];
    for (const shard of readdirSync(dir)) {
      for (const name of readdirSync(path.join(dir, shard))) {
        if (!name.endsWith('.dcm')) continue;
        const file = path.join(dir, shard, name);
        found.push({ file, mtime: statSync(file).mtimeMs });
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const { file } of found) {
      try {
        this.indexFile(file);
      } catch (err) {
        this.log.warn({ file, err: (err as Error).message }, 'unreadable cached file removed');
        rmSync(file, { force: true });
      }
    }
    if (existsSync(this.completenessFile)) {
      try {
        const loaded = JSON.parse(readFileSync(this.completenessFile, 'utf8')) as Completeness;
        for (const [uid, s] of Object.entries(loaded.series)) if (s.instances.every((i) => this.instances.has(i))) this.completeness.series[uid] = s;
        for (const [uid, series] of Object.entries(loaded.studies)) if (series.every((s) => this.completeness.series[s])) this.completeness.studies[uid] = series;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'completeness record unreadable; every scope will be retrieved again');
      }
    }
    this.log.info({ instances: this.instances.size, bytes: this.total, completeSeries: Object.keys(this.completeness.series).length }, 'cache index rebuilt');
    this.evict();
  }

  /**
   * Indexes an instance that has just been written durably. It does not evict: the caller first pins the new
   * instance for whoever waits for it, then calls `evict()` — else a tiny budget could remove it unread.
   */
  add(stored: StoredInstance): CachedInstance {
    const { arrived } = stored;
    if (!arrived) return this.indexFile(stored.path);
    // Verified on arrival: its header was read then (the command's UIDs equal the dataset's).
    return this.index({
      sopInstanceUid: stored.sopInstanceUid, sopClassUid: stored.sopClassUid, transferSyntaxUid: stored.transferSyntaxUid,
      studyInstanceUid: arrived.studyInstanceUid, seriesInstanceUid: arrived.seriesInstanceUid,
      seriesNumber: arrived.seriesNumber, instanceNumber: arrived.instanceNumber, path: stored.path, bytes: stored.bytes,
    });
  }

  private indexFile(file: string): CachedInstance {
    return this.index(archivedInstanceOf(file));
  }

  private index(entry: CachedInstance): CachedInstance {
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
    }
    return entry;
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

  /** Records that a retrieval got every instance of these series (and, for a study retrieval, of the study). */
  markComplete(study: string, series: Record<string, string[]>, wholeStudy: boolean): void {
    for (const [uid, instances] of Object.entries(series)) {
      if (instances.every((i) => this.instances.has(i))) this.completeness.series[uid] = { study, instances };
    }
    if (wholeStudy && Object.keys(series).every((s) => this.completeness.series[s])) this.completeness.studies[study] = Object.keys(series);
    this.saveCompleteness();
  }

  private saveCompleteness(): void {
    const tmp = `${this.completenessFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.completeness));
    renameSync(tmp, this.completenessFile);
  }

  /** Removes least recently used, unpinned instances until the cache fits `maxBytes`. */
  evict(): void {
    if (this.total <= this.maxBytes) return;
    let changed = false;
    for (const [sop, entry] of this.instances) {
      if (this.total <= this.maxBytes) break;
      if (this.pins.has(sop)) continue;
      this.instances.delete(sop);
      this.total -= entry.bytes;
      rmSync(entry.path, { force: true });
      const series = this.completeness.series[entry.seriesInstanceUid];
      if (series) {
        delete this.completeness.series[entry.seriesInstanceUid];
        delete this.completeness.studies[series.study];
        changed = true;
      }
      this.log.debug({ sop, bytes: entry.bytes }, 'evicted');
    }
    if (changed) this.saveCompleteness();
  }
}
