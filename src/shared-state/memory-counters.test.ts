import { describe, it, expect } from 'vitest';
import { MemoryCounters } from './memory-counters.js';

/** Counters on a clock the test moves. */
function counters(maxKeys?: number): { c: MemoryCounters; at: (ms: number) => void } {
  const clock = { now: 0 };
  return { c: new MemoryCounters(maxKeys, () => clock.now), at: (ms) => (clock.now = ms) };
}

describe('window counters in this process', () => {
  it('allows the limit per window and key, then says how long to wait', () => {
    const { c, at } = counters();
    const limit = { requests: 3, windowSeconds: 10 };
    const t = 1_000_009_000; // 1 s before a clock boundary of 10 s: the window starts here all the same
    const take = (key: string, ms: number): number | undefined => {
      at(ms);
      return c.takeNow(key, limit);
    };
    expect([take('a', t), take('a', t + 1), take('a', t + 2)]).toEqual([undefined, undefined, undefined]);
    expect(take('a', t + 1_500)).toBe(9); // past the clock boundary, still the same window
    expect(take('b', t + 2_500)).toBeUndefined();
    expect(take('b', t + 12_000)).toBeUndefined(); // b's own window started at t + 2.5 s
    expect(take('a', t + 10_000)).toBeUndefined(); // a's next window
  });

  it('does nothing when disabled, and stays bounded in keys', async () => {
    const { c } = counters(100);
    expect(await c.take('a', { requests: 0, windowSeconds: 1 })).toBeUndefined();
    for (let i = 0; i < 1000; i++) c.takeNow(`k${i}`, { requests: 1, windowSeconds: 60 });
    expect((c as unknown as { counts: Map<string, unknown> }).counts.size).toBeLessThanOrEqual(100);
  });
});
