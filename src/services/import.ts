import { isStored } from '../dicom/status.js';
import { createReadStream, openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { storePart10, type StoreInstance } from './part10-store.js';

/** One file the import could not store, and why (the archive's or the PACS's status and comment). */
export interface ImportFailure {
  file: string;
  reason: string;
}

/** How far an import is: files and bytes offered so far of all there are. */
export interface ImportProgress {
  files: number;
  bytes: number;
  doneFiles: number;
  doneBytes: number;
  stored: number;
  skipped: number;
  failed: ImportFailure[];
}

export interface ImportOptions {
  /** Files stored at once (associations to a PACS, or archive writes). */
  concurrency: number;
  /** Aborting stops taking new files; those being stored finish (each is stored whole or not at all). */
  signal?: AbortSignal;
  onProgress?(progress: Readonly<ImportProgress>): void;
}

/** Every regular file under the given files and directories, depth first, in name order, with its size. */
export function filesUnder(paths: readonly string[]): { file: string; size: number }[] {
  const out: { file: string; size: number }[] = [];
  const visit = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) visit(path.join(p, name));
    } else if (st.isFile()) {
      out.push({ file: p, size: st.size });
    }
  };
  for (const p of paths) visit(p);
  return out;
}

/** A DICOM Part 10 file: "DICM" after the 128-byte preamble (PS3.10 §7.1). Anything else is skipped. */
function isPart10(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 128) === 4 && magic.toString('latin1') === 'DICM';
  } finally {
    closeSync(fd);
  }
}

/**
 * `dicomweb-gateway import`: stores every Part 10 file found under `paths` through `store` (the embedded
 * archive's ingest, or C-STORE to the PACS), `concurrency` at a time, each read as a stream. Files that are not
 * Part 10 are skipped and counted; each refusal is listed with its status.
 */
export async function importFiles(
  paths: readonly string[],
  store: StoreInstance,
  options: ImportOptions,
): Promise<ImportProgress> {
  const files = filesUnder(paths);
  const progress: ImportProgress = {
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    doneFiles: 0,
    doneBytes: 0,
    stored: 0,
    skipped: 0,
    failed: [],
  };
  options.onProgress?.(progress);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length && !options.signal?.aborted) {
      const { file, size } = files[next++] as { file: string; size: number };
      try {
        if (!isPart10(file)) {
          progress.skipped++;
        } else {
          const outcome = await storePart10(store, createReadStream(file, { highWaterMark: 256 * 1024 }), {
            source: 'IMPORT',
          });
          const { status, comment } = outcome.status;
          if (isStored(status)) progress.stored++;
          else
            progress.failed.push({
              file,
              reason: `status ${status.toString(16).toUpperCase().padStart(4, '0')}${comment ? `: ${comment}` : ''}`,
            });
        }
      } catch (err) {
        progress.failed.push({ file, reason: (err as Error).message });
      }
      progress.doneFiles++;
      progress.doneBytes += size;
      options.onProgress?.(progress);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  return progress;
}
