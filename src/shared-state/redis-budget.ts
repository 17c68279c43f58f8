import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { AssociationBudget, Permit } from './association-budget.js';

/**
 * Takes a permit when fewer than ARGV[2] unexpired ones are held: permits are members of a sorted set scored by
 * their expiry (Redis's own clock), so a replica that dies without releasing its permits loses them after ttl.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
  return 1
end
return 0
`;

/** Moves the expiry of the permits this replica holds (those still in the set) ttl into the future. */
const RENEW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
`;

/** How long a permit outlives the last renewal of the replica holding it. */
const PERMIT_TTL_MS = 15_000;
/** How long a replica's "I am waiting" stays up after its last failed try. */
const WANTED_TTL_MS = 1_000;
/** How often a waiting replica tries again, and a replica with idle associations looks for waiters. */
const POLL_MS = 50;

/**
 * A PACS's association budget shared through Redis (association-budget.ts). A Redis that cannot be reached
 * grants at once (each replica's own pool limit still holds), logged: degraded, never closed.
 */
export class RedisAssociationBudget implements AssociationBudget {
  /** The permits' sorted set, and the key a waiting replica sets. */
  private readonly key: string;
  private readonly wantedKey: string;
  private readonly held = new Set<string>();
  private readonly renewal: NodeJS.Timeout;
  private readonly watch: NodeJS.Timeout;
  private readonly listeners: (() => void)[] = [];
  private waitingElsewhere = false;
  private warnedAt = 0;

  constructor(
    private readonly redis: Redis,
    /** The PACS, as its keys name it: `AE@host:port`. */
    pacs: string,
    private readonly max: number,
    private readonly log: Logger,
    private readonly me = randomUUID(),
  ) {
    this.key = `budget:${pacs}`;
    this.wantedKey = `budget-wanted:${pacs}`;
    this.renewal = setInterval(() => void this.renew(), PERMIT_TTL_MS / 3);
    this.renewal.unref();
    this.watch = setInterval(() => void this.lookForWaiters(), POLL_MS * 4);
    this.watch.unref();
  }

  async acquire(waitMs: number): Promise<Permit | undefined> {
    const deadline = Date.now() + waitMs;
    const id = `${this.me}:${randomUUID()}`;
    for (;;) {
      let granted: boolean;
      try {
        granted = (await this.redis.eval(ACQUIRE, 1, this.key, PERMIT_TTL_MS, this.max, id)) === 1;
      } catch (err) {
        this.unreachable(err);
        return { release: () => {} };
      }
      if (granted) {
        this.held.add(id);
        return { release: () => this.release(id) };
      }
      // Say that we wait, so that replicas holding idle associations give theirs up.
      await this.redis.set(this.wantedKey, this.me, 'PX', WANTED_TTL_MS).catch(() => undefined);
      if (Date.now() + POLL_MS > deadline) return undefined;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  othersWaiting(): boolean {
    return this.waitingElsewhere;
  }

  onOthersWaiting(listener: () => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    clearInterval(this.renewal);
    clearInterval(this.watch);
    if (this.held.size > 0) void this.redis.zrem(this.key, ...this.held).catch(() => undefined);
    this.held.clear();
  }

  private release(id: string): void {
    if (!this.held.delete(id)) return;
    void this.redis.zrem(this.key, id).catch(() => undefined);
  }

  private async renew(): Promise<void> {
    if (this.held.size === 0) return;
    await this.redis
      .eval(RENEW, 1, this.key, PERMIT_TTL_MS, ...this.held)
      .catch((err: unknown) => this.unreachable(err));
  }

  private async lookForWaiters(): Promise<void> {
    if (this.held.size === 0) {
      this.waitingElsewhere = false;
      return;
    }
    const who = await this.redis.get(this.wantedKey).catch(() => null);
    // Our own waiters are served by our own pool as its associations come back; another replica's are not.
    this.waitingElsewhere = who !== null && who !== this.me;
    if (this.waitingElsewhere) for (const l of this.listeners) l();
  }

  private unreachable(err: unknown): void {
    const now = Date.now();
    if (now - this.warnedAt < 30_000) return;
    this.warnedAt = now;
    this.log.warn(
      { err: (err as Error).message },
      "Redis cannot be reached: the PACS's association budget is kept by this replica alone until it answers",
    );
  }
}
