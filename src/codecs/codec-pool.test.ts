import { describe, it, expect, afterAll } from 'vitest';
import { CodecPool } from './codec-pool.js';
import { CONVERSION_TARGETS, LOSSLESS_ENCODERS } from './transfer-syntaxes.js';
import type { PixelFormat } from './pixel-format.js';

const pool = new CodecPool({ threads: 2, maxQueue: 64 });
afterAll(() => pool.close());

const format: PixelFormat = {
  rows: 40,
  columns: 33,
  samplesPerPixel: 1,
  bitsAllocated: 16,
  bitsStored: 12,
  highBit: 11,
  pixelRepresentation: 1,
  photometricInterpretation: 'MONOCHROME2',
  planarConfiguration: 0,
  numberOfFrames: 1,
};
const samples = new Int16Array(40 * 33).map((_, i) => ((i * 37) % 4000) - 2000);

describe('CodecPool', () => {
  it.each(Object.keys(LOSSLESS_ENCODERS))(
    'encodes signed 12-bit samples into %s and decodes them back exactly, in a worker',
    async (ts) => {
      const native = new Uint8Array(samples.buffer.slice(0));
      const encoded = await pool.encode(ts, format, native);
      expect(native.length).toBe(0); // moved to the worker, not copied
      expect(encoded.data.length).toBeGreaterThan(0);
      expect(encoded.data.length).toBeLessThan(samples.byteLength);
      const decoded = await pool.decode(ts, format, encoded.data);
      expect(Array.from(new Int16Array(decoded.data.buffer, decoded.data.byteOffset, samples.length))).toEqual(
        Array.from(samples),
      );
    },
  );

  it('lists the native targets first among the conversion targets', () => {
    expect(CONVERSION_TARGETS.slice(0, 2)).toEqual(['1.2.840.10008.1.2.1', '1.2.840.10008.1.2']);
  });

  it('rejects a corrupt bitstream with an error and keeps working', async () => {
    await expect(
      pool.decode('1.2.840.10008.1.2.4.90', format, new Uint8Array([0xff, 0x4f, 0xff, 0x51, 1, 2, 3])),
    ).rejects.toThrow();
    const encoded = await pool.encode('1.2.840.10008.1.2.4.80', format, new Uint8Array(samples.buffer.slice(0)));
    expect((await pool.decode('1.2.840.10008.1.2.4.80', format, encoded.data)).data.length).toBe(samples.length * 2);
  });
});
