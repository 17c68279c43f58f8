import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { tempDir } from '../../devkit/temp.js';

// A slow disk: creating a directory takes longer than writing and syncing a small file.
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const mkdir: typeof fs.mkdir = (async (
    dir: Parameters<typeof fs.mkdir>[0],
    options?: Parameters<typeof fs.mkdir>[1],
  ) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return fs.mkdir(dir, options);
  }) as typeof fs.mkdir;
  return { ...fs, default: { ...fs, mkdir }, mkdir };
});

const { InstanceStore } = await import('./instance-store.js');

describe('InstanceStore on an empty cache and a slow disk', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('commits the first instances of every shard: the rename waits for the shard directory', async () => {
    const root = tempDir('store');
    dirs.push(root);
    const store = new InstanceStore(root);
    await store.init();
    const uids = Array.from({ length: 20 }, (_, i) => `1.2.826.0.1.3680043.10.1.${i + 1}`);
    const stored = await Promise.all(
      uids.map(async (uid) => {
        const writer = await store.begin({
          sopClassUid: '1.2.840.10008.5.1.4.1.1.7',
          sopInstanceUid: uid,
          transferSyntaxUid: '1.2.840.10008.1.2.1',
          sourceAeTitle: 'TEST',
        });
        await writer.write(Buffer.from('dataset bytes'));
        return writer.commit();
      }),
    );
    await store.close();
    for (const [i, s] of stored.entries()) {
      expect(s.path).toBe(store.pathOf(uids[i] as string));
      expect(readFileSync(s.path).subarray(-13).toString()).toBe('dataset bytes');
    }
  });
});
