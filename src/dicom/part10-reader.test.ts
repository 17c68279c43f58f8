import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodeFileMetaHeader } from './part10.js';
import { readPart10Header, bulkStream } from './part10-reader.js';
import { Tags } from './tag.js';
import { TransferSyntax } from './transfer-syntax.js';
import { tempDir } from '../../devkit/temp.js';

/** A big-endian file whose Pixel Data (OW) holds the words 0, 1, 2, … (mod 65536). */
function bigEndianFile(words: number): string {
  const meta = encodeFileMetaHeader({
    mediaStorageSopClassUid: '1.2.840.10008.5.1.4.1.1.7',
    mediaStorageSopInstanceUid: '1.2.3',
    transferSyntaxUid: TransferSyntax.ExplicitVRBigEndian,
    implementationClassUid: '1.2.3.4',
    implementationVersionName: 'T',
  });
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x7fe0, 0);
  header.writeUInt16BE(0x0010, 2);
  header.write('OW', 4, 'latin1');
  header.writeUInt32BE(words * 2, 8);
  const value = Buffer.alloc(words * 2);
  for (let i = 0; i < words; i++) value.writeUInt16BE(i & 0xffff, i * 2);
  const file = path.join(tempDir('be'), 'be.dcm');
  writeFileSync(file, Buffer.concat([meta, header, value]));
  return file;
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of it) parts.push(b);
  return Buffer.concat(parts);
}

describe('bulkStream', () => {
  const words = 300_000; // spans several read chunks
  const file = bigEndianFile(words);
  const header = readPart10Header(file, 1024);
  const el = header.dataset.get(Tags.PixelData);
  const ref = el && 'bulk' in el ? el.bulk : undefined;
  const expected = Buffer.alloc(words * 2);
  for (let i = 0; i < words; i++) expected.writeUInt16LE(i & 0xffff, i * 2);

  it('turns big-endian words little endian (PS3.18 §8.7.2)', async () => {
    expect(header.bigEndian).toBe(true);
    expect((await collect(bulkStream(header, ref!, undefined, 2))).equals(expected)).toBe(true);
  });

  it.each([
    [1, 10],
    [3, 3],
    [0, 0],
    [99_999, 400_001],
    [131_071, 131_072],
  ])('serves the byte range %i-%i of the little-endian value', async (start, end) => {
    expect((await collect(bulkStream(header, ref!, { start, end }, 2))).equals(expected.subarray(start, end + 1))).toBe(
      true,
    );
  });

  it('leaves bytes alone for a word size of 1', async () => {
    const raw = await collect(bulkStream(header, ref!, { start: 0, end: 3 }, 1));
    expect([...raw]).toEqual([0, 0, 0, 1]);
  });
});
