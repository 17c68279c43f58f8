import { describe, it, expect } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InstanceStore } from './instance-store.js';
import { InstanceCache } from './instance-cache.js';
import { archivedInstanceOf } from '../archive/archived-instance.js';
import { fixtureFiles } from '../../devkit/fixtures.js';
import { tempDir } from '../../devkit/temp.js';

/** A cache directory holding copies of the first fixture files, as retrievals would have left them. */
function cacheWith(count: number): {
  dir: string;
  sops: { sop: string; series: string; study: string; path: string }[];
} {
  const dir = tempDir('cache-index');
  const store = new InstanceStore(dir);
  const sops = fixtureFiles()
    .files.slice(0, count)
    .map((file) => {
      const a = archivedInstanceOf(file);
      const target = store.pathOf(a.sopInstanceUid);
      mkdirSync(path.dirname(target), { recursive: true });
      copyFileSync(file, target);
      return { sop: a.sopInstanceUid, series: a.seriesInstanceUid, study: a.studyInstanceUid, path: target };
    });
  return { dir, sops };
}

async function opened(dir: string): Promise<InstanceCache> {
  const cache = new InstanceCache(new InstanceStore(dir), 1 << 30);
  await cache.open();
  return cache;
}

describe('InstanceCache index (SQLite)', () => {
  it('parses files it has no row for once; then trusts the files of complete scopes and checks the others', async () => {
    const { dir, sops } = cacheWith(5); // two series
    const first = await opened(dir);
    expect(first.size).toBe(5);
    const [a] = sops;
    const complete = sops.filter((s) => s.series === a?.series);
    await first.markComplete(a?.study ?? '', { [a?.series ?? '']: complete.map((s) => s.sop) }, false);
    first.close();
    const other = sops.find((s) => s.series !== a?.series);
    expect(other).toBeDefined();
    // What a power cut may leave of files whose syncs were deferred: garbage, or a file cut short.
    writeFileSync(a?.path ?? '', Buffer.alloc(200, 0x41));
    writeFileSync(other?.path ?? '', readFileSync(other?.path ?? '').subarray(0, 300));
    const second = await opened(dir);
    // A complete scope's files were synced when it was recorded: not parsed again (garbage there goes unnoticed
    // until it is read). The other file is checked, found short, and dropped.
    expect(second.peek(a?.sop ?? '')?.seriesInstanceUid).toBe(a?.series);
    expect(second.peek(other?.sop ?? '')).toBeUndefined();
    expect(existsSync(other?.path ?? '')).toBe(false);
    second.close();
  });

  it('drops rows whose file is gone, and the completeness of their scope', async () => {
    const { dir, sops } = cacheWith(3);
    const cache = await opened(dir);
    const [a] = sops;
    const sameSeries = sops.filter((s) => s.series === a?.series);
    await cache.markComplete(a?.study ?? '', { [a?.series ?? '']: sameSeries.map((s) => s.sop) }, false);
    expect(cache.completeScope({ study: a?.study ?? '', series: a?.series ?? '' })?.length).toBe(sameSeries.length);
    cache.close();
    const restarted = await opened(dir);
    expect(restarted.completeScope({ study: a?.study ?? '', series: a?.series ?? '' })?.length).toBe(sameSeries.length);
    restarted.close();
    rmSync(a?.path ?? '');
    const after = await opened(dir);
    expect(after.size).toBe(2);
    expect(after.completeScope({ study: a?.study ?? '', series: a?.series ?? '' })).toBeUndefined();
    after.close();
  });
});
