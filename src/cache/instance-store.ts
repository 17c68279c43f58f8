import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
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

export interface StoredInstance extends IncomingInstance {
  path: string;
  bytes: number;
}

/** One instance being written. Writes may return a promise: the caller waits for it (backpressure). */
export interface InstanceWriter {
  write(chunk: Buffer): void | Promise<void>;
  /** Flushes, fsyncs and renames into place; resolves only when the file is durable. */
  commit(): Promise<StoredInstance>;
  /** Drops the partial file. */
  abort(): Promise<void>;
}

/** Bytes written ahead of the disk before the writer asks the caller to wait. */
const MAX_IN_FLIGHT = 4 * 1024 * 1024;

/**
 * Part 10 files on disk, one per SOP Instance UID: written under a temporary name, fsynced, then renamed, so
 * a reader never sees a partial file and a crash leaves no half instance under a final name.
 */
export class InstanceStore {
  private readonly incomingDir: string;
  private readonly instancesDir: string;

  constructor(readonly root: string) {
    this.incomingDir = path.join(root, 'incoming');
    this.instancesDir = path.join(root, 'instances');
  }

  async init(): Promise<void> {
    await mkdir(this.incomingDir, { recursive: true });
    await mkdir(this.instancesDir, { recursive: true });
  }

  /** Where an instance lives. UIDs are validated first: no path can be smuggled through them. */
  pathOf(sopInstanceUid: string): string {
    if (!isValidUid(sopInstanceUid)) throw new Error(`not a valid SOP Instance UID: ${JSON.stringify(sopInstanceUid)}`);
    const shard = createHash('sha1').update(sopInstanceUid).digest('hex').slice(0, 2);
    return path.join(this.instancesDir, shard, `${sopInstanceUid}.dcm`);
  }

  async begin(instance: IncomingInstance): Promise<InstanceWriter> {
    const finalPath = this.pathOf(instance.sopInstanceUid);
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
    return new FileInstanceWriter(fh, tmpPath, finalPath, header, instance);
  }
}

class FileInstanceWriter implements InstanceWriter {
  private chain: Promise<void>;
  private inFlight = 0;
  private bytes = 0;
  private failure: Error | undefined;
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly fh: FileHandle, private readonly tmpPath: string, private readonly finalPath: string, header: Buffer, private readonly instance: IncomingInstance) {
    this.chain = Promise.resolve();
    void this.write(header);
  }

  write(chunk: Buffer): void | Promise<void> {
    if (this.failure || this.closed) return;
    this.inFlight += chunk.length;
    this.bytes += chunk.length;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        let off = 0;
        while (off < chunk.length) off += (await this.fh.write(chunk, off, chunk.length - off)).bytesWritten;
      } catch (err) {
        this.failure = err as Error;
      } finally {
        this.inFlight -= chunk.length;
        if (this.inFlight <= MAX_IN_FLIGHT / 2) for (const w of this.waiters.splice(0)) w();
      }
    });
    if (this.inFlight > MAX_IN_FLIGHT) return new Promise((resolve) => this.waiters.push(resolve));
  }

  async commit(): Promise<StoredInstance> {
    await this.chain;
    this.closed = true;
    try {
      if (this.failure) throw this.failure;
      await this.fh.sync();
      await this.fh.close();
      await mkdir(path.dirname(this.finalPath), { recursive: true });
      await rename(this.tmpPath, this.finalPath);
      await syncDirectory(path.dirname(this.finalPath));
      return { ...this.instance, path: this.finalPath, bytes: this.bytes };
    } catch (err) {
      await this.fh.close().catch(() => {});
      await unlink(this.tmpPath).catch(() => {});
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.closed = true;
    await this.chain.catch(() => {});
    for (const w of this.waiters.splice(0)) w();
    await this.fh.close().catch(() => {});
    await unlink(this.tmpPath).catch(() => {});
  }
}

/** A rename is durable only once its directory entry is (POSIX). */
async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
