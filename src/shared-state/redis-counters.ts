import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { MemoryCounters } from './memory-counters.js';
import type { Limit, WindowCounters } from './window-counters.js';

/**
 * One request counted in a key's window, atomically: the window starts (its expiry set) with its first request;
 * answers the count so far and the milliseconds left in the window.
 */
const TAKE = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`;

/** How often a Redis that cannot be reached is said so in the log. */
const WARN_EVERY_MS = 30_000;

/**
 * Window counters in Redis, shared by every replica that names the same server: a limit holds for the cluster.
 * A Redis that cannot be reached, or answers later than `commandTimeoutMs`, does not fail requests: they are
 * counted in this process meanwhile (each replica then limits on its own — degraded, never closed), and the
 * log says so.
 */
export class RedisCounters implements WindowCounters {
  private readonly fallback = new MemoryCounters();
  private warnedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {}

  async take(key: string, limit: Limit): Promise<number | undefined> {
    if (limit.requests <= 0) return undefined;
    const windowMs = limit.windowSeconds * 1000;
    try {
      const [count, ttlMs] = (await this.redis.eval(TAKE, 1, `rate:${key}`, windowMs)) as [number, number];
      if (count <= limit.requests) return undefined;
      return Math.max(1, Math.ceil(ttlMs / 1000));
    } catch (err) {
      const now = Date.now();
      if (now - this.warnedAt >= WARN_EVERY_MS) {
        this.warnedAt = now;
        this.log.warn(
          { err: (err as Error).message },
          'Redis cannot be reached: rate limits are counted by this replica alone until it answers',
        );
      }
      return this.fallback.takeNow(key, limit);
    }
  }

  async close(): Promise<void> {
    await this.fallback.close();
  }
}
