import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { CodecResult, CodecTask } from './codec-task.js';
import type { PixelFormat } from './pixel-format.js';

export interface CodecPoolOptions {
  /** Worker threads (default: one per core). */
  threads: number;
  /** Tasks that may wait for a worker; beyond it `run` rejects with CodecPoolBusyError. */
  maxQueue: number;
}

export class CodecPoolBusyError extends Error {
  constructor(queued: number) {
    super(`${queued} frames are already waiting for a codec worker`);
    this.name = 'CodecPoolBusyError';
  }
}

/** The worker module: compiled JavaScript next to this file, or (tests, tsx) a shim that loads the TypeScript source. */
function workerEntry(): string {
  const js = fileURLToPath(new URL('./codec-worker.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('./codec-worker.dev.mjs', import.meta.url));
}

/** True when a buffer owns its whole ArrayBuffer, so it can be moved to a worker (not a slice of Node's pool). */
const ownsMemory = (b: Uint8Array): boolean =>
  b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer;

/**
 * Frame decoding and encoding on worker threads, so that the event loop keeps serving while JPEG 2000 frames
 * (~40 ms each) decode. Bounded: a full queue refuses work instead of growing without limit.
 */
export class CodecPool {
  private started: Piscina | undefined;

  constructor(private readonly options: CodecPoolOptions) {}

  /** Frames waiting for a worker (metrics). */
  get queued(): number {
    return this.started?.queueSize ?? 0;
  }

  /** Worker threads running: none until the first frame. */
  get threadCount(): number {
    return this.started?.threads.length ?? 0;
  }

  /** Workers start with the first frame to decode: a gateway that never decodes never loads the codecs. */
  private get pool(): Piscina {
    this.started ??= new Piscina({
      filename: workerEntry(),
      minThreads: 1,
      maxThreads: this.options.threads,
      maxQueue: this.options.maxQueue,
      idleTimeout: 60_000,
    });
    return this.started;
  }

  /** Decodes a frame. Takes ownership of `encoded`: a buffer that owns its memory is moved to the worker. */
  decode(transferSyntaxUid: string, format: PixelFormat, encoded: Uint8Array): Promise<CodecResult> {
    return this.run({ op: 'decode', transferSyntaxUid, format, data: encoded });
  }

  /** Encodes a native frame losslessly. Takes ownership of `native`, as `decode` does. */
  encode(transferSyntaxUid: string, format: PixelFormat, native: Uint8Array): Promise<CodecResult> {
    return this.run({ op: 'encode', transferSyntaxUid, format, data: native });
  }

  private async run(task: CodecTask): Promise<CodecResult> {
    if (this.pool.queueSize >= this.options.maxQueue) throw new CodecPoolBusyError(this.pool.queueSize);
    const transferList = ownsMemory(task.data) ? [task.data.buffer as ArrayBuffer] : [];
    const result = (await this.pool.run(task, { transferList })) as CodecResult;
    return result;
  }

  async close(): Promise<void> {
    await this.started?.destroy();
  }
}
