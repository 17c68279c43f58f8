import type Database from 'better-sqlite3';

/**
 * An on-disk format the gateway cannot read: written by a newer version. Refused at start with what to do,
 * never rebuilt over (that would throw away what the newer version wrote).
 */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

export interface SqliteFormat {
  /** What the file is, for the message: "the archive index", "the cache index". */
  what: string;
  file: string;
  /** The format this version writes (PRAGMA user_version). */
  version: number;
  /** What to do with a file of a newer format than this version reads. */
  remedy: string;
  /**
   * Migrations from each older format to the next, by the format they start from; format 0 is a file written
   * before formats were numbered, whose schema format 1 kept as it was.
   */
  migrations?: Record<number, (db: Database.Database) => void>;
}

/**
 * Brings a SQLite file to this version's format (PRAGMA user_version): a new file is stamped, an older one is
 * migrated step by step in one transaction, a newer one is refused with a FormatError.
 */
export function openFormat(db: Database.Database, format: SqliteFormat): void {
  const found = db.pragma('user_version', { simple: true }) as number;
  if (found > format.version) {
    throw new FormatError(
      `${format.what} ${format.file} has format ${found}, written by a newer dicomweb-gateway; this version reads formats up to ${format.version}. ${format.remedy}`,
    );
  }
  if (found === format.version) return;
  db.transaction(() => {
    for (let v = found; v < format.version; v++) format.migrations?.[v]?.(db);
    db.pragma(`user_version = ${format.version}`);
  })();
}
