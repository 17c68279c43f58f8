import { mkdir, open, readdir, rename, rm, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { encodeFileMetaHeader } from '../dicom/part10.js';
import { isValidUid } from '../dicom/uid.js';
import { IMPLEMENTATION } from '../dicom/uid.js';

export interface IncomingInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  sourceAeTitle: string;
}

/** What a received dataset itself says (not its command), read once before it is put in place. */
export interface ArrivedUids {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  seriesNumber?: number | undefined;
  instanceNumber?: number | undefined;
}

export interface StoredInstance extends IncomingInstance {
  path: string;
  bytes: number;
  /** The dataset's own UIDs and numbers, when the receiver read them to verify it (no need to read them again). */
  arrived?: ArrivedUids;
}

/** One instance being written. Writes may return a promise: the caller waits for it (backpressure). */
export interface InstanceWriter {
  write(chunk: Buffer): void | Promise<void>;
  /**
   * Flushes, then `verify`s the complete file under its temporary name (a throw drops it, and nothing under the
   * final name changes), then fsyncs and renames into place; resolves only when the file is durable — or, in a
   * store that defers its syncs (the retrieval cache), once it is renamed (`syncFiles` makes it durable later).
   */
  commit(verify?: (tmpPath: string) => Promise<void>): Promise<StoredInstance>;
  /** Drops the partial file. */
  abort(): Promise<void>;
}

/** How long a free-space answer is trusted, and how far above the reserve it must be to be. */
const FREE_SPACE_TTL_MS = 1000;
const SAFETY_MARGIN = 256 * 1024 * 1024;

/** Bytes written ahead of the disk before the writer asks the caller to wait. */
const MAX_IN_FLIGHT = 4 * 1024 * 1024;
/** Largest single write; chunks that arrive while a write is in flight are gathered into the next one. */
const WRITE_BATCH = 4 * 1024 * 1024;

/**
 * Part 10 files on disk, one per SOP Instance UID: written under a temporary name, fsynced, then renamed, so
 * a reader never sees a partial file and a crash leaves no half instance under a final name.
 *
 * `syncEach: false` (the retrieval cache): a file is renamed into place without its own sync, which the PACS's
 * next C-STORE need not wait for; the cache syncs a scope's files in one batch (`syncFiles`) before it records
 * the scope complete, and checks at start whatever no complete scope vouches for. A process crash loses nothing
 * (the kernel still writes what was written); a power cut may truncate a file no scope was recorded for.
 */
export class InstanceStore {
  private readonly incomingDir: string;
  private readonly instancesDir: string;
  /** Shard directories, opened once: their handles make each rename durable without an open/close per instance. */
  private readonly dirs = new Map<string, Promise<FileHandle>>();
  private free: { at: number; bytes: number } | undefined;
  private written = 0;

  /** `minFreeBytes`: no new instance is started while the disk has less free space than this. */
  constructor(
    readonly root: string,
    private readonly options: { minFreeBytes?: number; syncEach?: boolean } = {},
  ) {
    this.incomingDir = path.join(root, 'incoming');
    this.instancesDir = path.join(root, 'instances');
  }

  async init(): Promise<void> {
    await mkdir(this.incomingDir, { recursive: true });
    await mkdir(this.instancesDir, { recursive: true });
  }

  /**
   * Deletes what a crash left in incoming/ (files being received when the process died). Only for the store's one
   * owner, at its start: nothing else may be receiving into it then.
   */
  async removeLeftovers(): Promise<void> {
    for (const leftover of await readdir(this.incomingDir))
      await rm(path.join(this.incomingDir, leftover), { force: true });
  }

  /** Where an instance lives. UIDs are validated first: no path can be smuggled through them. */
  pathOf(sopInstanceUid: string): string {
    if (!isValidUid(sopInstanceUid)) throw new Error(`not a valid SOP Instance UID: ${JSON.stringify(sopInstanceUid)}`);
    const shard = createHash('sha1').update(sopInstanceUid).digest('hex').slice(0, 2);
    return path.join(this.instancesDir, shard, `${sopInstanceUid}.dcm`);
  }

  async begin(instance: IncomingInstance): Promise<InstanceWriter> {
    const finalPath = this.pathOf(instance.sopInstanceUid);
    const reserve = this.options.minFreeBytes ?? 0;
    if (reserve > 0) {
      const free = await this.freeBytes(reserve);
      if (free < reserve)
        throw new Error(`free disk space ${free} bytes is below the reserve of ${reserve} bytes (dimse.minFreeBytes)`);
    }
    const tmpPath = path.join(this.incomingDir, `${instance.sopInstanceUid}.${randomBytes(6).toString('hex')}.part`);
    const fh = await open(tmpPath, 'wx');
    const header = encodeFileMetaHeader({
      mediaStorageSopClassUid: instance.sopClassUid,
      mediaStorageSopInstanceUid: instance.sopInstanceUid,
      transferSyntaxUid: instance.transferSyntaxUid,
      implementationClassUid: IMPLEMENTATION.classUid,
      implementationVersionName: IMPLEMENTATION.versionName,
      sourceApplicationEntityTitle: instance.sourceAeTitle,
    });
    return new FileInstanceWriter(
      fh,
      tmpPath,
      finalPath,
      header,
      instance,
      (dir) => this.directory(dir),
      this.options.syncEach ?? true,
      (n) => this.noteWritten(n),
    );
  }

  /**
   * Makes these files, and their names, durable: their data synced in parallel (the file system merges them into
   * few journal commits), then each directory they are in once. A file that is gone (evicted) is skipped.
   */
  async syncFiles(paths: readonly string[]): Promise<void> {
    const queue = [...paths];
    const worker = async (): Promise<void> => {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
        let fh: FileHandle;
        try {
          fh = await open(p, 'r');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw err;
        }
        try {
          await fh.datasync();
        } finally {
          await fh.close();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, queue.length) }, worker));
    await Promise.all(
      [...new Set(paths.map((p) => path.dirname(p)))].map(async (dir) => (await this.directory(dir)).sync()),
    );
  }

  /**
   * Free space, asked of the file system at most every FREE_SPACE_TTL_MS — a statfs per instance is a round trip on
   * the path of every C-STORE — and sooner when what was written since could bring it near the reserve: the
   * estimate (last answer minus what was written since) never overstates what is left by more than other
   * writers to the disk took meanwhile.
   */
  private async freeBytes(reserve: number): Promise<number> {
    const now = Date.now();
    const known = this.free;
    if (known && now - known.at < FREE_SPACE_TTL_MS && known.bytes - this.written - reserve > SAFETY_MARGIN)
      return known.bytes - this.written;
    const fs = await statfs(this.root);
    this.free = { at: now, bytes: fs.bavail * fs.bsize };
    this.written = 0;
    return this.free.bytes;
  }

  /** Counts what a writer wrote, for the free-space estimate. */
  noteWritten(bytes: number): void {
    this.written += bytes;
  }

  /** An open handle on a shard directory (created on first use), for fsync after renames into it. */
  private directory(dir: string): Promise<FileHandle> {
    let handle = this.dirs.get(dir);
    if (!handle) {
      handle = mkdir(dir, { recursive: true }).then(() => open(dir, 'r'));
      handle.catch(() => this.dirs.delete(dir));
      this.dirs.set(dir, handle);
    }
    return handle;
  }

  /** Closes the directory handles. */
  async close(): Promise<void> {
    const handles = [...this.dirs.values()];
    this.dirs.clear();
    await Promise.allSettled(handles.map(async (h) => (await h).close()));
  }
}

class FileInstanceWriter implements InstanceWriter {
  private chain: Promise<void> = Promise.resolve();
  private writing = false;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private inFlight = 0;
  private bytes = 0;
  private failure: Error | undefined;
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly fh: FileHandle,
    private readonly tmpPath: string,
    private readonly finalPath: string,
    header: Buffer,
    private readonly instance: IncomingInstance,
    private readonly directory: (dir: string) => Promise<FileHandle>,
    private readonly syncEach: boolean,
    private readonly onWritten: (bytes: number) => void,
  ) {
    void this.write(header);
  }

  write(chunk: Buffer): void | Promise<void> {
    if (this.failure || this.closed) return;
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    this.bytes += chunk.length;
    this.onWritten(chunk.length);
    // Group writes: write at once when the disk is idle, else gather until the write in flight is done.
    if (!this.writing || this.batchBytes >= WRITE_BATCH) this.flush();
    if (this.inFlight + this.batchBytes > MAX_IN_FLIGHT) return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Queues the gathered chunks as one writev; writes stay in order on the chain. */
  private flush(): void {
    if (this.batchBytes === 0) return;
    this.writing = true;
    const buffers = this.batch;
    const size = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.inFlight += size;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        let pending = buffers;
        while (pending.length) {
          const { bytesWritten } = await this.fh.writev(pending);
          pending = remainder(pending, bytesWritten);
        }
      } catch (err) {
        this.failure = err as Error;
      } finally {
        this.inFlight -= size;
        this.writing = this.inFlight > 0;
        if (!this.writing && this.batchBytes > 0 && !this.closed) this.flush();
        if (this.inFlight + this.batchBytes <= MAX_IN_FLIGHT / 2) for (const w of this.waiters.splice(0)) w();
      }
    });
  }

  async commit(verify?: (tmpPath: string) => Promise<void>): Promise<StoredInstance> {
    do {
      this.flush();
      await this.chain;
    } while (this.batchBytes > 0 || this.inFlight > 0);
    this.closed = true;
    try {
      if (this.failure) throw this.failure;
      await verify?.(this.tmpPath);
      // Durable = data synced, then renamed, then the directory entry synced. Closing is off that path.
      // The shard directory is created (once) while the data syncs; the rename waits for both.
      const [dir] = await Promise.all([
        this.directory(path.dirname(this.finalPath)),
        this.syncEach ? this.fh.datasync() : undefined, // data and the size needed to read it back (fdatasync(2))
      ]);
      await rename(this.tmpPath, this.finalPath);
      if (this.syncEach) await dir.sync();
      void this.fh.close().catch(() => {});
      return { ...this.instance, path: this.finalPath, bytes: this.bytes };
    } catch (err) {
      await this.fh.close().catch(() => {});
      await unlink(this.tmpPath).catch(() => {});
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.closed = true;
    this.batch = [];
    await this.chain.catch(() => {});
    for (const w of this.waiters.splice(0)) w();
    await this.fh.close().catch(() => {});
    await unlink(this.tmpPath).catch(() => {});
  }
}

/** What is left of `buffers` after `written` bytes of them went out (a short writev). */
function remainder(buffers: Buffer[], written: number): Buffer[] {
  let skip = written;
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
