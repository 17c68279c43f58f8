import { describe, it, expect } from 'vitest';
import { windowFunction, displayTable, storedRange } from './grayscale.js';
import type { GrayscaleDescription } from './image-description.js';

describe('VOI LUT functions (PS3.3 C.11.2.1.2, C.11.2.1.3)', () => {
  it('LINEAR: the worked boundaries of C.11.2.1.2.1 (center 2048, width 4096 maps 0…4095 onto the output)', () => {
    const f = windowFunction({ center: 2048, width: 4096, fn: 'LINEAR' });
    expect(f(0)).toBe(0);
    expect(f(4095)).toBe(1);
    expect(f(2047.5)).toBeCloseTo(0.5, 10);
  });

  it('LINEAR with width 1 is a threshold at the center', () => {
    const f = windowFunction({ center: 100, width: 1, fn: 'LINEAR' });
    expect([f(99), f(99.5), f(100)]).toEqual([0, 0, 1]);
  });

  it('LINEAR_EXACT spans exactly center ± width/2', () => {
    const f = windowFunction({ center: 40, width: 400, fn: 'LINEAR_EXACT' });
    expect([f(-160), f(40), f(240), f(241)]).toEqual([0, 0.5, 1, 1]);
  });

  it('SIGMOID is 1/2 at the center and symmetric', () => {
    const f = windowFunction({ center: 0, width: 100, fn: 'SIGMOID' });
    expect(f(0)).toBe(0.5);
    expect(f(50) + f(-50)).toBeCloseTo(1, 12);
    expect(f(50)).toBeCloseTo(1 / (1 + Math.exp(-2)), 12);
  });
});

describe('display tables', () => {
  const d: GrayscaleDescription = {
    kind: 'grayscale',
    modality: { slope: 2, intercept: -100 },
    windows: [],
    voiLuts: [],
    inverted: true,
    padding: { low: -5, high: -5 },
  };
  it('applies rescale, window and inversion, with padding black', () => {
    const t = displayTable(d, { window: { center: 0, width: 200, fn: 'LINEAR_EXACT' } }, { min: -5, max: 100 });
    const at = (stored: number): number => t[stored + 5] as number;
    expect(at(-5)).toBe(0); // padding: background, after inversion too
    expect(at(0)).toBe(255); // 0·2 − 100 = −100 → (−100 − 0)/200 + 0.5 = 0 → inverted 1
    expect(at(50)).toBe(128); // 0 → 0.5 → inverted 0.5 → 127.5 rounds up
    expect(at(100)).toBe(0); // 100 → 1 → inverted 0
  });
  it('knows the stored range of a format', () => {
    expect(storedRange({ bitsStored: 12, pixelRepresentation: 1 } as never)).toEqual({ min: -2048, max: 2047 });
    expect(storedRange({ bitsStored: 1, pixelRepresentation: 0 } as never)).toEqual({ min: 0, max: 1 });
  });
});
