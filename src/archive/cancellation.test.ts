import { describe, it, expect } from 'vitest';
import { deadline } from './cancellation.js';
import { abortable, untilAborted } from '../abort.js';
import { ArchiveError } from './archive-error.js';

describe('cancelling archive calls', () => {
  it('stops a source stuck between items when its signal aborts, and tells it to stop', async () => {
    let released = false;
    let unblock!: () => void;
    const stuck = new Promise<void>((resolve) => {
      unblock = resolve;
    });
    const source = (async function* () {
      try {
        yield 1;
        await stuck; // a peer that never answers
        yield 2;
      } finally {
        released = true;
      }
    })();
    const controller = new AbortController();
    const got: number[] = [];
    const run = (async () => {
      for await (const n of abortable(source, controller.signal)) {
        got.push(n);
        if (n === 1) setTimeout(() => controller.abort(new Error('gone')), 10);
      }
    })();
    await expect(run).rejects.toThrow('gone');
    expect(got).toEqual([1]);
    unblock(); // the peer's own timer fires: the source sees the request to stop at its next step
    await new Promise((r) => setTimeout(r, 10));
    expect(released).toBe(true);
  });

  it('passes every item through when nothing aborts, and rejects with a timeout said of the archive past a deadline', async () => {
    const items: number[] = [];
    for await (const n of abortable(
      (async function* () {
        yield* [1, 2, 3];
      })(),
      new AbortController().signal,
    ))
      items.push(n);
    expect(items).toEqual([1, 2, 3]);
    const started = Date.now();
    const never = new Promise<string>(() => {});
    const err = await untilAborted(never, deadline(50, 'PACS SILENT', 'search')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveError);
    expect(err).toMatchObject({ kind: 'timeout', archive: 'PACS SILENT', detail: { phase: 'deadline' } });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
