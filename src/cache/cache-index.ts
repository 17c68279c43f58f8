import Database from 'better-sqlite3';
import type { CachedInstance } from './instance-cache.js';
import { openFormat } from '../sqlite-format.js';

/** Complete series (study UID and the SOP Instance UIDs the PACS listed) and studies (their series). */
export interface Completeness {
  series: Record<string, { study: string; instances: string[] }>;
  studies: Record<string, string[]>;
}

interface Row {
  sop: string;
  series: string;
  study: string;
  sop_class: string;
  ts: string;
  series_number: number | null;
  instance_number: number | null;
  path: string;
  bytes: number;
}

/**
 * What the retrieval cache holds, kept in SQLite beside its files (`cache.dir/cache-index.sqlite`), so that a
 * start-up reads rows instead of parsing every cached file. The files stay the truth: a row whose file is gone is
 * dropped, a file without a row is parsed (crash-consistent without a sync per instance: WAL, synchronous=NORMAL —
 * what a crash loses is re-read from the files, and a scope counts as complete only if all its files are there).
 */
export class CacheIndex {
  private readonly db: Database.Database;
  private readonly put: Database.Statement;
  private readonly drop: Database.Statement;
  private readonly touchRow: Database.Statement;
  private clock: number;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    // Format 1: the schema below (files written before formats were numbered have it too).
    openFormat(this.db, {
      what: 'the cache index',
      file,
      version: 1,
      remedy: 'Run the newer version, or delete the cache directory (it refills from the PACS).',
    });
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS cached (sop TEXT PRIMARY KEY, series TEXT NOT NULL, study TEXT NOT NULL, sop_class TEXT NOT NULL, ts TEXT NOT NULL,
        series_number INTEGER, instance_number INTEGER, path TEXT NOT NULL, bytes INTEGER NOT NULL, used INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS complete_series (series TEXT PRIMARY KEY, study TEXT NOT NULL, instances TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS complete_studies (study TEXT PRIMARY KEY, series TEXT NOT NULL);`);
    this.put = this.db.prepare('INSERT OR REPLACE INTO cached VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.drop = this.db.prepare('DELETE FROM cached WHERE sop = ?');
    this.touchRow = this.db.prepare('UPDATE cached SET used = ? WHERE sop = ?');
    this.clock = (this.db.prepare('SELECT MAX(used) AS m FROM cached').get() as { m: number | null }).m ?? 0;
  }

  /** Every recorded instance, least recently used first. */
  instances(): CachedInstance[] {
    return (this.db.prepare('SELECT * FROM cached ORDER BY used').all() as Row[]).map((r) => ({
      sopInstanceUid: r.sop,
      seriesInstanceUid: r.series,
      studyInstanceUid: r.study,
      sopClassUid: r.sop_class,
      transferSyntaxUid: r.ts,
      seriesNumber: r.series_number ?? undefined,
      instanceNumber: r.instance_number ?? undefined,
      path: r.path,
      bytes: r.bytes,
    }));
  }

  add(e: CachedInstance): void {
    this.put.run(
      e.sopInstanceUid,
      e.seriesInstanceUid,
      e.studyInstanceUid,
      e.sopClassUid,
      e.transferSyntaxUid,
      e.seriesNumber ?? null,
      e.instanceNumber ?? null,
      e.path,
      e.bytes,
      ++this.clock,
    );
  }

  touch(sopInstanceUid: string): void {
    this.touchRow.run(++this.clock, sopInstanceUid);
  }

  remove(sopInstanceUids: readonly string[]): void {
    this.db.transaction(() => {
      for (const sop of sopInstanceUids) this.drop.run(sop);
    })();
  }

  completeness(): Completeness {
    const out: Completeness = { series: {}, studies: {} };
    for (const r of this.db.prepare('SELECT * FROM complete_series').all() as {
      series: string;
      study: string;
      instances: string;
    }[])
      out.series[r.series] = { study: r.study, instances: JSON.parse(r.instances) as string[] };
    for (const r of this.db.prepare('SELECT * FROM complete_studies').all() as { study: string; series: string }[])
      out.studies[r.study] = JSON.parse(r.series) as string[];
    return out;
  }

  /** Replaces the completeness record (small: one row per complete series). */
  saveCompleteness(c: Completeness): void {
    this.db.transaction(() => {
      this.db.exec('DELETE FROM complete_series; DELETE FROM complete_studies;');
      const s = this.db.prepare('INSERT INTO complete_series VALUES (?, ?, ?)');
      for (const [uid, v] of Object.entries(c.series)) s.run(uid, v.study, JSON.stringify(v.instances));
      const t = this.db.prepare('INSERT INTO complete_studies VALUES (?, ?)');
      for (const [uid, series] of Object.entries(c.studies)) t.run(uid, JSON.stringify(series));
    })();
  }

  close(): void {
    this.db.close();
  }
}
