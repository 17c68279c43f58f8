import type { CachedInstance, InstanceCache } from '../../cache/instance-cache.js';
import type { InstanceStream, RetrieveScope } from '../../archive/archive.js';
import { holdIn } from './retrieval.js';

/**
 * Serving without the PACS: the instance asked for when it is cached, or a scope the cache recorded complete —
 * each instance held (kept from eviction) while it is read.
 */
export function cachedScope(cache: InstanceCache, scope: RetrieveScope): CachedInstance[] | undefined {
  if (!scope.instance) return cache.completeScope(scope);
  const cached = cache.peek(scope.instance);
  return cached &&
    cached.studyInstanceUid === scope.study &&
    (!scope.series || cached.seriesInstanceUid === scope.series)
    ? [cached]
    : undefined;
}

/** The cached instances of a scope as a stream; one evicted meanwhile is counted missing. */
export function fromCache(cache: InstanceCache, instances: CachedInstance[]): InstanceStream {
  const state = { missing: 0 };
  return {
    fromCache: true,
    failedSubOperations: 0,
    get missing() {
      return state.missing;
    },
    async *[Symbol.asyncIterator]() {
      for (const entry of instances) {
        const live = cache.get(entry.sopInstanceUid);
        if (!live) {
          state.missing++;
          continue;
        }
        yield holdIn(cache, live);
      }
    },
  };
}
