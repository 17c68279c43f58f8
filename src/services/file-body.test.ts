import { describe, it, expect, afterAll } from 'vitest';
import { writeFileSync, rmSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { ReadBuffers, fileBody } from './file-body.js';
import { readAhead } from './iteration.js';
import { tempDir } from '../../devkit/temp.js';

const dir = tempDir('filebody');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Descriptors of this process open on `file` (Linux): other tests' files do not count. */
const openOn = (file: string): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;

async function collect(body: AsyncIterable<Buffer>, buffers: ReadBuffers): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of body) {
    out.push(Buffer.from(chunk)); // copy: the slot goes back to the pool right away
    buffers.release(chunk);
  }
  return Buffer.concat(out);
}

describe('fileBody', () => {
  const bytes = Buffer.alloc(2.5 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 11)) & 0xff;
  const file = path.join(dir, 'data.bin');
  writeFileSync(file, bytes);

  it('yields exactly the bytes of a range that spans several 1 MiB slots', async () => {
    const buffers = new ReadBuffers(2);
    const got = await collect(fileBody(buffers, file, 12345, 2 * 1024 * 1024 + 7), buffers);
    expect(got.equals(bytes.subarray(12345, 12345 + 2 * 1024 * 1024 + 7))).toBe(true);
  });

  it('reuses released slots, and keeps working when the pool is exhausted', async () => {
    const buffers = new ReadBuffers(1);
    const a = fileBody(buffers, file, 0, 100)[Symbol.asyncIterator]();
    const first = (await a.next()).value as Buffer;
    // The pool's only slot is in use: a second read gets an ordinary buffer, with the right bytes.
    const second = await collect(fileBody(buffers, file, 100, 100), new ReadBuffers(0));
    expect(second.equals(bytes.subarray(100, 200))).toBe(true);
    buffers.release(first);
    await a.return?.();
    const third = fileBody(buffers, file, 200, 10)[Symbol.asyncIterator]();
    const reused = (await third.next()).value as Buffer;
    expect(reused.buffer).toBe(first.buffer);
    await third.return?.();
  });

  it('closes the file when a body is disposed without being read', async () => {
    const bodies = Array.from({ length: 20 }, () => fileBody(new ReadBuffers(), file, 0, 4096));
    await new Promise((r) => setTimeout(r, 50));
    expect(openOn(file)).toBe(20);
    for (const b of bodies) b.dispose();
    await new Promise((r) => setTimeout(r, 50));
    expect(openOn(file)).toBe(0);
  });
});

describe('readAhead', () => {
  it('hands items pulled ahead but never consumed to discard when the consumer stops early', async () => {
    const discarded: number[] = [];
    async function* numbers(): AsyncGenerator<number> {
      for (let i = 1; i <= 10; i++) yield i;
    }
    const seen: number[] = [];
    for await (const n of readAhead(numbers(), 3, (n) => discarded.push(n))) {
      seen.push(n);
      if (n === 2) break;
    }
    expect(seen).toEqual([1, 2]);
    expect(discarded).toEqual([3, 4]); // depth 3: the item being handed on and the two queued behind it
  });
});
