import { describe, it, expect } from 'vitest';
import { PartCounter } from './prefetch-command.js';

describe('PartCounter', () => {
  it('counts every part and sees the closing delimiter, however the body is cut into chunks', () => {
    const body = Buffer.from(
      '--b1\r\nContent-Type: application/dicom\r\n\r\nAAAA--b\r\n--b1\r\n\r\nBB\r\n--b1\r\n\r\nC\r\n--b1--\r\n',
    );
    for (let cut = 1; cut < body.length; cut++) {
      for (const size of [1, 2, 3, 7]) {
        const counter = new PartCounter('b1');
        let parts = counter.push(body.subarray(0, cut));
        for (let at = cut; at < body.length; at += size) parts += counter.push(body.subarray(at, at + size));
        expect([parts, counter.closed], `cut ${cut}, then ${size}`).toEqual([3, true]);
      }
    }
  });

  it('a body that breaks off is not closed', () => {
    const counter = new PartCounter('b1');
    expect(counter.push(Buffer.from('--b1\r\n\r\nAAAA\r\n--b1\r\n\r\nBB'))).toBe(2);
    expect(counter.closed).toBe(false);
  });
});
