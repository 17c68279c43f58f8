/**
 * Group commit: items that become ready while a commit is under way (or in the same turn of the event loop) are
 * committed together — one transaction, so one WAL sync (synchronous=FULL) for all of them — and each waiter
 * resolves only once its item is committed. Under load (several associations, pipelined STOW parts) batches form
 * by themselves. A batch that fails is retried item by item, so that one bad item fails alone.
 */
export class GroupCommit<T> {
  private queue: { item: T; resolve(): void; reject(err: unknown): void }[] = [];
  private scheduled = false;
  private committing: Promise<void> | undefined;

  constructor(
    private readonly commitAll: (items: readonly T[]) => void | Promise<void>,
    private readonly commitOne: (item: T) => void | Promise<void>,
  ) {}

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.kick();
    });
  }

  /** Resolves once everything added so far is committed (or failed). */
  async drained(): Promise<void> {
    while (this.committing || this.queue.length || this.scheduled) {
      await (this.committing ?? new Promise((resolve) => setImmediate(resolve)));
    }
  }

  private kick(): void {
    if (this.committing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.committing = this.flush().finally(() => {
        this.committing = undefined;
        if (this.queue.length) this.kick();
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    try {
      await this.commitAll(batch.map((b) => b.item));
      for (const b of batch) b.resolve();
    } catch {
      for (const b of batch) {
        try {
          await this.commitOne(b.item);
          b.resolve();
        } catch (err) {
          b.reject(err);
        }
      }
    }
  }
}
