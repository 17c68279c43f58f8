import { describe, it, expect } from 'vitest';
import { retainedBytes } from './retained-bytes.js';

describe('retainedBytes', () => {
  it('counts the whole buffer a view keeps alive, not the view', () => {
    const big = new Uint8Array(1 << 20);
    expect(retainedBytes(big.subarray(0, 100))).toBeGreaterThanOrEqual(1 << 20);
    expect(retainedBytes(new Uint8Array(big.subarray(0, 10_000)))).toBe(10_000 + 256); // an exact copy counts itself
    // A Buffer copy counts what Node allocated for it (Node 24 rounds 10,000 bytes up to 64 KiB): never the original.
    const copied = retainedBytes(Buffer.from(big.subarray(0, 10_000)));
    expect(copied).toBeGreaterThanOrEqual(10_000 + 256);
    expect(copied).toBeLessThan(1 << 20);
    expect(retainedBytes(Buffer.from('tiny'))).toBeGreaterThanOrEqual(4096); // Node's shared pool slab
  });
});
