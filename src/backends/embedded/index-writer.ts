import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { IndexedInstance } from './archive-index.js';

const workerFile = (): string => {
  const js = fileURLToPath(new URL('./index-writer-worker.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('./index-writer-worker.dev.mjs', import.meta.url));
};

/** An error the writer met, with SQLite's code (SQLITE_FULL…) kept. */
export class IndexWriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'IndexWriteError';
  }
}

/**
 * The archive index's writer connection in a worker thread (SQLite WAL: this one writer, and the main thread's
 * connection reading beside it). `commit` adds rows in one transaction and resolves once it is durable.
 */
export class IndexWriter {
  private readonly worker: Worker;
  private next = 1;
  private readonly waiting = new Map<number, { resolve(added: number): void; reject(err: Error): void }>();
  private failure: Error | undefined;

  constructor(file: string) {
    this.worker = new Worker(workerFile(), { workerData: { file } });
    this.worker.on('message', (m: { id?: number; added?: number; error?: { message: string; code?: string } }) => {
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error) w?.reject(new IndexWriteError(m.error.message, m.error.code));
      else w?.resolve(m.added ?? 0);
    });
    const fail = (err: Error): void => {
      this.failure = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`the index writer stopped (exit code ${code})`));
    });
  }

  /** Commits rows in one transaction; resolves, once durable, with how many of them were new instances. */
  commit(rows: readonly IndexedInstance[]): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, rows });
    });
  }

  /** Closes the writer's connection (after what was posted) and ends the thread. */
  async close(): Promise<void> {
    if (this.failure) {
      await this.worker.terminate();
      return;
    }
    await new Promise<void>((resolve) => {
      const onMessage = (m: { closed?: boolean }): void => {
        if (!m.closed) return;
        this.worker.off('message', onMessage);
        resolve();
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ close: true });
    });
    await this.worker.terminate();
  }
}
