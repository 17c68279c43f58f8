import { describe, it, expect } from 'vitest';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InstanceStore } from './instance-store.js';
import { InstanceCache } from './instance-cache.js';
import { archivedInstanceOf } from '../archive/archived-instance.js';
import { fixtureFiles } from '../../devkit/fixtures.js';
import { tempDir } from '../../devkit/temp.js';

/** A cache directory holding copies of the first fixture files, as retrievals would have left them. */
function cacheWith(count: number): { dir: string; sops: { sop: string; series: string; study: string; path: string }[] } {
  const dir = tempDir('cache-index');
  const store = new InstanceStore(dir);
  const sops = fixtureFiles().files.slice(0, count).map((file) => {
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
  it('parses files it has no row for once, then starts from its rows', async () => {
    const { dir, sops } = cacheWith(3);
    const first = await opened(dir);
    expect(first.size).toBe(3);
    first.close();
    // A recorded file is not parsed again at start: garbage in its place goes unnoticed until it is read.
    writeFileSync(sops[0]?.path ?? '', Buffer.alloc(200, 0x41));
    const second = await opened(dir);
    expect(second.size).toBe(3);
    expect(second.peek(sops[0]?.sop ?? '')?.seriesInstanceUid).toBe(sops[0]?.series);
    second.close();
  });

  it('drops rows whose file is gone, and the completeness of their scope', async () => {
    const { dir, sops } = cacheWith(3);
    const cache = await opened(dir);
    const [a] = sops;
    const sameSeries = sops.filter((s) => s.series === a?.series);
    cache.markComplete(a?.study ?? '', { [a?.series ?? '']: sameSeries.map((s) => s.sop) }, false);
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
