import { describe, it, expect } from 'vitest';
import { GroupCommit } from './group-commit.js';

describe('GroupCommit', () => {
  it('commits what is ready in one turn together, and resolves each waiter only after its commit', async () => {
    const batches: number[][] = [];
    const commits = new GroupCommit<number>(
      (all) => {
        batches.push([...all]);
      },
      () => {
        throw new Error('not expected');
      },
    );
    const done: number[] = [];
    const waits = [1, 2, 3].map((n) => commits.add(n).then(() => done.push(n)));
    expect(done).toEqual([]);
    await Promise.all(waits);
    await commits.add(4);
    expect(batches).toEqual([[1, 2, 3], [4]]);
    expect(done).toEqual([1, 2, 3]);
  });

  it('retries a failed batch item by item: one bad item fails alone', async () => {
    const committed: number[] = [];
    const commits = new GroupCommit<number>(
      () => {
        throw new Error('batch failed');
      },
      (n) => {
        if (n === 2) throw new Error('bad item');
        committed.push(n);
      },
    );
    const results = await Promise.allSettled([1, 2, 3].map((n) => commits.add(n)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(committed).toEqual([1, 3]);
  });
});
