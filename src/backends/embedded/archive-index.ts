import Database from 'better-sqlite3';
import type { ArchivedInstance } from '../../archive/archive.js';
import type { DicomJsonAttribute, DicomJsonObject, PersonNameJson } from '../../dicom/json-model.js';
import { parseHexTag } from '../../dicom/tag.js';
import { levelOf, type QueryLevel } from '../../dicom/query-attributes.js';
import { openFormat } from '../../sqlite-format.js';

/** One instance as indexed: where its file is, and its DICOM JSON (BulkDataURIs relative: "bulkdata/7FE00010"). */
export interface IndexedInstance extends ArchivedInstance {
  metadata: DicomJsonObject;
  modality: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS studies (study_uid TEXT PRIMARY KEY, date_time TEXT NOT NULL, first TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS studies_by_date ON studies(date_time DESC, study_uid);
CREATE TABLE IF NOT EXISTS series (series_uid TEXT PRIMARY KEY, study_uid TEXT NOT NULL, number INTEGER, modality TEXT NOT NULL, first TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS series_of_study ON series(study_uid, number, series_uid);
CREATE TABLE IF NOT EXISTS instances (
  sop_uid TEXT PRIMARY KEY, series_uid TEXT NOT NULL, study_uid TEXT NOT NULL, sop_class TEXT NOT NULL,
  transfer_syntax TEXT NOT NULL, number INTEGER, path TEXT NOT NULL, bytes INTEGER NOT NULL, metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_of_series ON instances(series_uid, number, sop_uid);
CREATE INDEX IF NOT EXISTS instances_of_study ON instances(study_uid);
-- Matching values: one row per value of each top-level attribute of an entity, normalised (matchValuesOf below).
CREATE TABLE IF NOT EXISTS match_values (level TEXT NOT NULL, uid TEXT NOT NULL, tag TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS match_by_value ON match_values(level, tag, value);
CREATE INDEX IF NOT EXISTS match_by_entity ON match_values(level, uid);
`;

/** Binary values are not kept in the level summaries (they stay in the instance metadata and the file). */
function summary(json: DicomJsonObject, level: QueryLevel): DicomJsonObject {
  const out: DicomJsonObject = {};
  for (const [hex, attr] of Object.entries(json)) {
    if (attr.InlineBinary !== undefined || attr.BulkDataURI !== undefined) continue;
    const t = parseHexTag(hex);
    if (t === undefined) continue;
    const l = levelOf(t);
    if (l === level || l === 'ANY') out[hex] = attr;
  }
  return out;
}

/**
 * The values an attribute is matched on (PS3.4 §C.2.2.2): each value of a multi-valued attribute; a person name
 * by its alphabetic group, upper-cased (matched case-insensitively, as the source statements do); numbers in
 * their canonical form; times without separators.
 */
export function matchValuesOf(attr: DicomJsonAttribute): string[] {
  const out: string[] = [];
  for (const v of attr.Value ?? []) {
    if (v === null || v === undefined) continue;
    if (attr.vr === 'SQ') return [];
    if (attr.vr === 'PN') {
      const alphabetic = (v as PersonNameJson).Alphabetic;
      if (alphabetic) out.push(alphabetic.toUpperCase());
      continue;
    }
    if (typeof v === 'number') {
      out.push(String(v));
      continue;
    }
    if (typeof v === 'string') out.push(attr.vr === 'TM' ? v.replace(/:/g, '') : v);
  }
  return out;
}

/** Person names for fuzzy matching: without diacritics, upper case, words separated by single spaces. */
export function fuzzyForm(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toUpperCase()
    .replace(/[\^=,.\s-]+/g, ' ')
    .trim();
}

const FUZZY_SUFFIX = '~fuzzy';
export const fuzzyTag = (hex: string): string => `${hex}${FUZZY_SUFFIX}`;

/**
 * The embedded archive's index in SQLite (WAL, one writer: this process): studies, series and instances with
 * their DICOM JSON, and the values QIDO matches on. A study's and a series' attributes are those of its first
 * instance (by Series Number, Instance Number, UID); NumberOf…, ModalitiesInStudy and SOPClassesInStudy are computed when asked.
 */
export class ArchiveIndex {
  readonly db: Database.Database;
  private readonly insertInstance: Database.Statement;
  private readonly insertValue: Database.Statement;
  private readonly removeValues: Database.Statement;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // A C-STORE is answered after its commit: the commit must survive a power cut (WAL + FULL syncs it).
    this.db.pragma('synchronous = FULL');
    // Format 1: the schema below (files written before formats were numbered have it too).
    openFormat(this.db, {
      what: 'the archive index',
      file,
      version: 1,
      remedy:
        'Run the newer version, or rebuild this index from the archived files with an older one: dicomweb-gateway reindex.',
    });
    this.db.exec(SCHEMA);
    this.insertInstance = this.db.prepare(
      'INSERT OR REPLACE INTO instances VALUES (@sop, @series, @study, @sopClass, @ts, @number, @path, @bytes, @metadata)',
    );
    this.insertValue = this.db.prepare('INSERT INTO match_values VALUES (?, ?, ?, ?)');
    this.removeValues = this.db.prepare('DELETE FROM match_values WHERE level = ? AND uid = ?');
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** A prepared statement of fixed SQL, prepared once: ingest and every search row run the same few. */
  statement(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  has(sopInstanceUid: string): boolean {
    return this.statement('SELECT 1 FROM instances WHERE sop_uid = ?').get(sopInstanceUid) !== undefined;
  }

  /** Adds (or replaces) instances in one transaction (one sync): all or none. Returns how many were new. */
  addAll(instances: readonly IndexedInstance[]): number {
    return this.db.transaction(() => instances.reduce((added, i) => added + (this.add(i) ? 1 : 0), 0))();
  }

  /** Adds (or replaces) an instance, with its study and series if they are new; all or nothing. True if it was new. */
  add(instance: IndexedInstance): boolean {
    const add = this.db.transaction((): boolean => {
      const isNew = !this.has(instance.sopInstanceUid);
      const { metadata } = instance;
      // A study's (series') attributes are its first instance's — lowest Series Number, Instance Number, UID — so
      // that they do not depend on the order instances arrived (a reindex answers the same).
      const number = (n: number | undefined): string => String(n ?? 999_999_999).padStart(10, '0');
      const inSeries = `${number(instance.instanceNumber)}|${instance.sopInstanceUid}`;
      const inStudy = `${number(instance.seriesNumber)}|${instance.seriesInstanceUid}|${inSeries}`;
      const study = this.statement('SELECT first FROM studies WHERE study_uid = ?').get(instance.studyInstanceUid) as
        { first: string } | undefined;
      if (!study || inStudy <= study.first) {
        const date = metadata['00080020']?.Value?.[0];
        const time = metadata['00080030']?.Value?.[0];
        const dateTime = `${typeof date === 'string' ? date : ''}${typeof time === 'string' ? time.replace(/:/g, '') : ''}`;
        this.statement('INSERT OR REPLACE INTO studies VALUES (?, ?, ?, ?)').run(
          instance.studyInstanceUid,
          dateTime,
          inStudy,
          JSON.stringify(summary(metadata, 'STUDY')),
        );
        this.indexValues('STUDY', instance.studyInstanceUid, summary(metadata, 'STUDY'));
      }
      const series = this.statement('SELECT first FROM series WHERE series_uid = ?').get(instance.seriesInstanceUid) as
        { first: string } | undefined;
      if (!series || inSeries <= series.first) {
        this.statement('INSERT OR REPLACE INTO series VALUES (?, ?, ?, ?, ?, ?)').run(
          instance.seriesInstanceUid,
          instance.studyInstanceUid,
          instance.seriesNumber ?? null,
          instance.modality,
          inSeries,
          JSON.stringify(summary(metadata, 'SERIES')),
        );
        this.indexValues('SERIES', instance.seriesInstanceUid, summary(metadata, 'SERIES'));
      }
      this.removeValues.run('IMAGE', instance.sopInstanceUid);
      this.insertInstance.run({
        sop: instance.sopInstanceUid,
        series: instance.seriesInstanceUid,
        study: instance.studyInstanceUid,
        sopClass: instance.sopClassUid,
        ts: instance.transferSyntaxUid,
        number: instance.instanceNumber ?? null,
        path: instance.path,
        bytes: instance.bytes,
        metadata: JSON.stringify(metadata),
      });
      this.indexValues('IMAGE', instance.sopInstanceUid, summary(metadata, 'IMAGE'));
      return isNew;
    });
    return add();
  }

  /** Instances in scope, by series (Series Number) then Instance Number. */
  /** Whether any instance of the scope is indexed. */
  holds(scope: { study: string; series?: string | undefined; instance?: string | undefined }): boolean {
    return (
      this.statement(
        'SELECT 1 FROM instances WHERE study_uid = @study AND (@series IS NULL OR series_uid = @series) AND (@instance IS NULL OR sop_uid = @instance) LIMIT 1',
      ).get({ study: scope.study, series: scope.series ?? null, instance: scope.instance ?? null }) !== undefined
    );
  }

  instancesIn(scope: { study: string; series?: string; instance?: string }): ArchivedInstance[] {
    const rows = this.statement(
      `
      SELECT i.sop_uid, i.series_uid, i.study_uid, i.sop_class, i.transfer_syntax, i.number, i.path, i.bytes, s.number AS series_number
      FROM instances i JOIN series s ON s.series_uid = i.series_uid
      WHERE i.study_uid = @study AND (@series IS NULL OR i.series_uid = @series) AND (@instance IS NULL OR i.sop_uid = @instance)
      ORDER BY s.number IS NULL, s.number, s.series_uid, i.number IS NULL, i.number, i.sop_uid`,
    ).all({ study: scope.study, series: scope.series ?? null, instance: scope.instance ?? null }) as InstanceRow[];
    return rows.map((r) => ({
      sopInstanceUid: r.sop_uid,
      seriesInstanceUid: r.series_uid,
      studyInstanceUid: r.study_uid,
      sopClassUid: r.sop_class,
      transferSyntaxUid: r.transfer_syntax,
      seriesNumber: r.series_number ?? undefined,
      instanceNumber: r.number ?? undefined,
      path: r.path,
      bytes: r.bytes,
    }));
  }

  /** The stored DICOM JSON of the instances in scope, in catalog order (BulkDataURIs relative to the instance). */
  metadataIn(scope: {
    study: string;
    series?: string;
    instance?: string;
  }): { instance: ArchivedInstance; metadata: DicomJsonObject }[] {
    const rows = this.statement(
      `
      SELECT i.sop_uid, i.metadata FROM instances i JOIN series s ON s.series_uid = i.series_uid
      WHERE i.study_uid = @study AND (@series IS NULL OR i.series_uid = @series) AND (@instance IS NULL OR i.sop_uid = @instance)
      ORDER BY s.number IS NULL, s.number, s.series_uid, i.number IS NULL, i.number, i.sop_uid`,
    ).all({ study: scope.study, series: scope.series ?? null, instance: scope.instance ?? null }) as {
      sop_uid: string;
      metadata: string;
    }[];
    const byUid = new Map(rows.map((r) => [r.sop_uid, r.metadata]));
    return this.instancesIn(scope).map((instance) => ({
      instance,
      metadata: JSON.parse(byUid.get(instance.sopInstanceUid) ?? '{}') as DicomJsonObject,
    }));
  }

  /** Fails when the database file is damaged (PRAGMA quick_check). */
  check(): void {
    const result = this.db.pragma('quick_check', { simple: true });
    if (result !== 'ok') throw new Error(`index check failed: ${String(result)}`);
  }

  get instanceCount(): number {
    return (this.statement('SELECT COUNT(*) AS n FROM instances').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }

  private indexValues(level: QueryLevel, uid: string, json: DicomJsonObject): void {
    this.removeValues.run(level, uid);
    for (const [hex, attr] of Object.entries(json)) {
      for (const value of matchValuesOf(attr)) this.insertValue.run(level, uid, hex, value);
      if (attr.vr === 'PN') {
        for (const v of attr.Value ?? []) {
          const alphabetic = (v as PersonNameJson | null)?.Alphabetic;
          if (alphabetic) this.insertValue.run(level, uid, fuzzyTag(hex), ` ${fuzzyForm(alphabetic)}`);
        }
      }
    }
  }
}

interface InstanceRow {
  sop_uid: string;
  series_uid: string;
  study_uid: string;
  sop_class: string;
  transfer_syntax: string;
  number: number | null;
  path: string;
  bytes: number;
  series_number: number | null;
}
