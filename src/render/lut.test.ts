import { describe, it, expect } from 'vitest';
import { expandSegmented, readLutData, lookup } from './lut.js';

describe('segmented palette LUTs (PS3.3 C.7.9.2)', () => {
  it('expands discrete and linear segments', () => {
    const words = Uint16Array.from([0, 2, 10, 20, 1, 4, 60, 0, 1, 7]);
    expect([...expandSegmented(words, 7)]).toEqual([10, 20, 30, 40, 50, 60, 7]);
  });

  it('replays earlier segments for an indirect segment', () => {
    // discrete [5, 6], linear to 10 over 2, then indirect: replay 1 segment from word offset 0 (the discrete one).
    const words = Uint16Array.from([0, 2, 5, 6, 1, 2, 10, 2, 1, 0, 0]);
    expect([...expandSegmented(words, 6)]).toEqual([5, 6, 8, 10, 5, 6]);
  });

  it('rejects an unknown opcode', () => {
    expect(() => expandSegmented(Uint16Array.from([7, 1, 0]), 1)).toThrow(/opcode 7/);
  });
});

describe('LUT data', () => {
  it('reads 8-bit entries packed two per word, and 8-bit entries one per word', () => {
    expect([...readLutData(Buffer.from([1, 2, 3, 4]), 4, 8)]).toEqual([1, 2, 3, 4]);
    expect([...readLutData(Buffer.from([1, 0, 2, 0, 3, 0]), 3, 8)]).toEqual([1, 2, 3]);
  });

  it('clamps lookups below the first and above the last entry (PS3.3 C.11.1.1)', () => {
    const lut = { firstMapped: 10, values: Uint16Array.from([100, 200, 300]), bits: 16 };
    expect([lookup(lut, 0), lookup(lut, 10), lookup(lut, 11), lookup(lut, 12), lookup(lut, 99)]).toEqual([
      100, 100, 200, 300, 300,
    ]);
  });
});
