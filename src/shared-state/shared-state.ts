import { Redis } from 'ioredis';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { AssociationBudget } from './association-budget.js';
import { MemoryCounters } from './memory-counters.js';
import { RedisAssociationBudget } from './redis-budget.js';
import { RedisCounters } from './redis-counters.js';
import type { WindowCounters } from './window-counters.js';

/**
 * What replicas share, chosen once at start: in this process (one replica, the default), or in the Redis that
 * `redis.url` names for every replica.
 */
export interface SharedState {
  /** Rate-limit counters. */
  counters: WindowCounters;
  /** A PACS's association budget for the cluster; undefined: each pool's own limit is the budget. */
  budgetOf(pacs: {
    aeTitle: string;
    host: string;
    port: number;
    maxAssociations: number;
  }): AssociationBudget | undefined;
  close(): Promise<void>;
}

export function sharedStateFrom(config: GatewayConfig, log: Logger): SharedState {
  const { url, keyPrefix, commandTimeoutMs } = config.redis;
  if (!url) {
    const counters = new MemoryCounters();
    return { counters, budgetOf: () => undefined, close: () => counters.close() };
  }
  const redisLog = log.child({ component: 'redis' });
  const redis = new Redis(url, {
    keyPrefix,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2000,
    // Fail at once while disconnected (each piece degrades on its own); reconnect in the background.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  // Connection errors reach the pieces through their commands, which say so; not as unhandled events.
  redis.on('error', () => {});
  const counters = new RedisCounters(redis, redisLog);
  const budgets = new Map<string, RedisAssociationBudget>();
  return {
    counters,
    budgetOf(pacs) {
      const key = `${pacs.aeTitle.trim()}@${pacs.host}:${pacs.port}`;
      let budget = budgets.get(key);
      if (!budget) {
        budget = new RedisAssociationBudget(redis, key, pacs.maxAssociations, redisLog);
        budgets.set(key, budget);
      }
      return budget;
    },
    async close() {
      for (const b of budgets.values()) b.close();
      await counters.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
