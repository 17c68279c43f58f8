import { describe, it, expect } from 'vitest';
import { FixedWindowLimiter } from './rate-limit.js';

describe('FixedWindowLimiter', () => {
  it('allows the limit per window and key, then says how long to wait', () => {
    const l = new FixedWindowLimiter({ requests: 3, windowSeconds: 10 });
    const t = 1_000_009_000; // 1 s before a clock boundary of 10 s: the window starts here all the same
    expect([l.take('a', t), l.take('a', t + 1), l.take('a', t + 2)]).toEqual([undefined, undefined, undefined]);
    expect(l.take('a', t + 1_500)).toBe(9); // past the clock boundary, still the same window
    expect(l.take('b', t + 2_500)).toBeUndefined();
    expect(l.take('b', t + 12_000)).toBeUndefined(); // b's own window started at t + 2.5 s
    expect(l.take('a', t + 10_000)).toBeUndefined(); // a's next window
  });

  it('does nothing when disabled, and stays bounded in keys', () => {
    expect(new FixedWindowLimiter({ requests: 0, windowSeconds: 1 }).take('a', 0)).toBeUndefined();
    const l = new FixedWindowLimiter({ requests: 1, windowSeconds: 60 }, 100);
    for (let i = 0; i < 1000; i++) l.take(`k${i}`, 0);
    expect((l as unknown as { counts: Map<string, unknown> }).counts.size).toBeLessThanOrEqual(100);
  });
});
