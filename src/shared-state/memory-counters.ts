import type { Limit, WindowCounters } from './window-counters.js';

/**
 * Window counters in this process (one replica, the default): bounded, at most `maxKeys` keys tracked; beyond,
 * ended windows and then the oldest are dropped first.
 */
export class MemoryCounters implements WindowCounters {
  private readonly counts = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  async take(key: string, limit: Limit): Promise<number | undefined> {
    return this.takeNow(key, limit);
  }

  /** The same count, synchronously (the Redis counters' fallback while Redis cannot be reached). */
  takeNow(key: string, limit: Limit): number | undefined {
    if (limit.requests <= 0) return undefined;
    const nowMs = this.now();
    const windowMs = limit.windowSeconds * 1000;
    let entry = this.counts.get(key);
    if (!entry || nowMs >= entry.start + windowMs) {
      if (!entry && this.counts.size >= this.maxKeys) this.prune(nowMs - windowMs);
      entry = { start: nowMs, count: 0 };
      this.counts.delete(key);
      this.counts.set(key, entry); // insertion order = window start order, which prune relies on
    }
    entry.count++;
    if (entry.count <= limit.requests) return undefined;
    return Math.max(1, Math.ceil((entry.start + windowMs - nowMs) / 1000));
  }

  async close(): Promise<void> {
    this.counts.clear();
  }

  /** Drops ended windows, then the oldest, until half the room is free. */
  private prune(endedBefore: number): void {
    for (const [key, entry] of this.counts) {
      if (entry.start <= endedBefore || this.counts.size >= this.maxKeys) this.counts.delete(key);
      if (this.counts.size < this.maxKeys / 2) break;
    }
  }
}
