import { describe, it, expect } from 'vitest';
import { ProgressReporter, progressFigures } from './progress.js';

describe('progress', () => {
  it('says count, bytes, rate and ETA (by bytes when sizes are known)', () => {
    expect(progressFigures({ done: 10, total: 40, doneBytes: 25e6, totalBytes: 100e6, unit: 'files' }, 5000)).toBe(
      '10/40 files  25.0/100.0 MB  5.0 MB/s  ETA 0:15',
    );
    expect(
      progressFigures({ done: 3, total: 0, doneBytes: 0, totalBytes: 0, unit: 'instances', note: '1 failed' }, 0),
    ).toBe('3 instances  0.0 MB  0.0 MB/s  ETA --:--  1 failed');
  });

  it('redraws one line on a terminal, and writes a plain line every few seconds elsewhere', () => {
    let now = 0;
    const tty: string[] = [];
    const onTty = new ProgressReporter(
      { write: (t: string) => tty.push(t), isTTY: true, columns: 100 },
      5000,
      () => now,
    );
    onTty.update({ done: 1, total: 4, doneBytes: 1, totalBytes: 4, unit: 'files' });
    onTty.finish();
    expect(tty[0]).toMatch(/^\r\[#{6}-{18}\] 1\/4 files/);
    expect(tty[1]).toBe('\n');

    const plain: string[] = [];
    const inLog = new ProgressReporter({ write: (t: string) => plain.push(t) }, 5000, () => now);
    for (const [t, done] of [
      [0, 1],
      [1000, 2],
      [6000, 3],
      [6500, 4],
    ] as const) {
      now = t;
      inLog.update({ done, total: 4, doneBytes: done, totalBytes: 4, unit: 'files' });
    }
    expect(plain.map((l) => l.split(' ')[0])).toEqual(['1/4', '3/4', '4/4']); // the first, one 5 s later, the last
  });
});
