import { open, read, close } from 'node:fs';

/** Size of one read: a typical CT/MR instance fits in one, larger files are read in steps of this. */
const SLOT_BYTES = 1024 * 1024;

/**
 * Reusable read buffers for response bodies. Serving a study reads hundreds of megabytes; a fresh buffer per
 * file made the garbage collector the largest single cost of a warm retrieval. A slot goes back to the pool
 * once the socket has taken its bytes (`release`, called from the write callback). Bounded: beyond
 * `maxSlots` slots in use, reads get ordinary buffers that the collector reclaims.
 */
export class ReadBuffers {
  private readonly free: Buffer[] = [];
  private readonly owned = new WeakSet<ArrayBufferLike>();
  private created = 0;

  constructor(private readonly maxSlots = 64) {}

  acquire(): Buffer {
    const slot = this.free.pop();
    if (slot) return slot;
    if (this.created >= this.maxSlots) return Buffer.allocUnsafe(SLOT_BYTES);
    this.created++;
    const fresh = Buffer.allocUnsafeSlow(SLOT_BYTES);
    this.owned.add(fresh.buffer);
    return fresh;
  }

  /** Gives back the slot a chunk was read into (chunks not from the pool are ignored). */
  release(chunk: Buffer): void {
    if (!this.owned.has(chunk.buffer)) return;
    this.free.push(Buffer.from(chunk.buffer, 0, SLOT_BYTES));
  }
}

const openFile = (path: string): Promise<number> =>
  new Promise((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
const closeFile = (fd: number): void => close(fd, () => {});

function readInto(fd: number, target: Buffer, length: number, position: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = (): void =>
      read(fd, target, done, length - done, position + done, (err, n) => {
        if (err) return reject(err);
        if (n === 0) return reject(new Error(`file ended ${length - done} bytes early`));
        done += n;
        if (done < length) step();
        else resolve(target.subarray(0, length));
      });
    step();
  });
}

/** A file's bytes as an async iterable, and a way to let go of it whether or not it was iterated. */
export interface FileBody extends AsyncIterable<Buffer> {
  /** Closes the file and returns read-ahead buffers; safe to call more than once. */
  dispose(): void;
}

/**
 * The bytes [start, start + length) of a file as chunks of at most one slot. Reading starts at once (so parts
 * created ahead of the one being written are read meanwhile) and stays one chunk ahead of the consumer.
 */
export function fileBody(buffers: ReadBuffers, path: string, start: number, length: number): FileBody {
  const fd = openFile(path);
  fd.catch(() => {});
  const chunkAt = (offset: number): Promise<Buffer> => {
    const chunk = fd.then((d) => readInto(d, buffers.acquire(), Math.min(SLOT_BYTES, length - offset), start + offset));
    chunk.catch(() => {});
    return chunk;
  };
  let next: Promise<Buffer> | undefined = length > 0 ? chunkAt(0) : undefined;
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    // A chunk read ahead but never handed to the socket goes back to the pool.
    if (next)
      void next.then(
        (c) => buffers.release(c),
        () => {},
      );
    next = undefined;
    void fd.then(closeFile, () => {});
  };
  return {
    dispose,
    async *[Symbol.asyncIterator]() {
      let offset = 0;
      try {
        while (next) {
          const chunk = await next;
          offset += chunk.length;
          next = offset < length ? chunkAt(offset) : undefined;
          yield chunk;
        }
      } finally {
        dispose();
      }
    },
  };
}
