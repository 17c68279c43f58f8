import { describe, it, expect } from 'vitest';
import { retainedBytes } from './retained-bytes.js';

describe('retainedBytes', () => {
  it('counts the whole buffer a view keeps alive, not the view', () => {
    const big = new Uint8Array(1 << 20);
    expect(retainedBytes(big.subarray(0, 100))).toBeGreaterThanOrEqual(1 << 20);
    expect(retainedBytes(Buffer.from(big.subarray(0, 10_000)))).toBe(10_000 + 256); // an exact copy counts itself
    expect(retainedBytes(Buffer.from('tiny'))).toBeGreaterThanOrEqual(4096); // Node's shared pool slab
  });
});
