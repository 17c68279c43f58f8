/**
 * Group commit: items that become ready in the same turn of the event loop are committed together — one
 * transaction, so one WAL sync (synchronous=FULL) for all of them — and each waiter resolves only once its item is
 * committed. Under load (several associations, pipelined STOW parts) batches form by themselves: while one commit
 * syncs, the next items queue. A batch that fails is retried item by item, so that one bad item fails alone.
 */
export class GroupCommit<T> {
  private queue: { item: T; resolve(): void; reject(err: unknown): void }[] = [];
  private scheduled = false;

  constructor(private readonly commitAll: (items: readonly T[]) => void, private readonly commitOne: (item: T) => void) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    try {
      this.commitAll(batch.map((b) => b.item));
      for (const b of batch) b.resolve();
    } catch {
      for (const b of batch) {
        try {
          this.commitOne(b.item);
          b.resolve();
        } catch (err) {
          b.reject(err);
        }
      }
    }
  }
}
