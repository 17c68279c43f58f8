import { describe, it, expect } from 'vitest';
import type { SearchMatch, SearchRequest, SearchResults } from '../../archive/archive.js';
import { ArchiveError } from '../../archive/archive-error.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { federatedSearch, type SearchMember } from './federated-search.js';

const request = (offset = 0, limit = 100): SearchRequest => ({
  level: 'STUDY',
  matches: [],
  includes: [],
  includeAll: false,
  limit,
  offset,
  fuzzyMatching: false,
});

/** A study match; `from` marks which archive answered it. */
const study = (uid: string, from: string): SearchMatch => ({
  json: { '0020000D': { vr: 'UI', Value: [uid] }, '00081080': { vr: 'LO', Value: [from] } },
  uids: { study: uid },
});

/** An archive that answers these studies (paged as asked), fails, or never answers. */
function member(
  name: string,
  behaviour: string[] | Error | 'silent',
  more: Partial<SearchMember> = {},
): SearchMember & { asked: SearchRequest[] } {
  const asked: SearchRequest[] = [];
  return {
    name,
    priority: 1,
    searchTimeoutMs: 5_000,
    asked,
    ...more,
    archive: {
      search(r: SearchRequest, options?: { signal?: AbortSignal | undefined }): SearchResults {
        asked.push(r);
        const state = { truncated: false };
        const matches = (async function* () {
          if (behaviour instanceof Error) throw behaviour;
          if (behaviour === 'silent') {
            // A PACS that accepts and never answers: only the signal ends it.
            await new Promise<void>((_, reject) =>
              options?.signal?.addEventListener('abort', () => reject(options.signal?.reason as Error)),
            );
            return;
          }
          const all = behaviour.map((uid) => study(uid, name));
          state.truncated = all.length > r.offset + r.limit;
          yield* all.slice(r.offset, r.offset + r.limit);
        })();
        return {
          matches,
          warnings: [],
          get truncated() {
            return state.truncated;
          },
        };
      },
    },
  };
}

async function collect(results: SearchResults): Promise<{ uids: string[]; from: string[] }> {
  const uids: string[] = [];
  const from: string[] = [];
  for await (const m of results.matches) {
    uids.push(m.uids.study);
    from.push(String(m.json['00081080']?.Value?.[0]));
  }
  return { uids, from };
}

describe('one search over several archives', () => {
  it('answers each study once, from the better member, in priority order', async () => {
    const main = member('main', ['1.1', '1.2'], { priority: 1 });
    const cardio = member('cardio', ['1.2', '1.3'], { priority: 2 });
    const results = federatedSearch([cardio, main], request());
    expect(await collect(results)).toEqual({ uids: ['1.1', '1.2', '1.3'], from: ['main', 'main', 'cardio'] });
    expect(results.warnings).toEqual([]);
    expect(results.truncated).toBe(false);
  });

  it('pages the merged answer exactly, asking each member for offset+limit', async () => {
    const a = member('a', ['1.1', '1.2', '1.3'], { priority: 1 });
    const b = member('b', ['1.2', '1.4', '1.5', '1.6'], { priority: 2 });
    const page = federatedSearch([a, b], request(2, 2));
    expect((await collect(page)).uids).toEqual(['1.3', '1.4']);
    expect(page.truncated).toBe(true);
    expect(a.asked[0]).toMatchObject({ offset: 0, limit: 4 });
    const last = federatedSearch([a, b], request(4, 10));
    expect((await collect(last)).uids).toEqual(['1.5', '1.6']);
    expect(last.truncated).toBe(false);
  });

  it('goes on without a member that fails or misses its deadline, and names it', async () => {
    const down = member('dental', new ArchiveError('unreachable', 'connect ECONNREFUSED', {}, 'PACS DENTAL'), {
      priority: 1,
    });
    const silent = member('merged-hospital', 'silent', { priority: 2, searchTimeoutMs: 150 });
    const main = member('main', ['1.1'], { priority: 3 });
    const started = Date.now();
    const results = federatedSearch([down, silent, main], request());
    expect((await collect(results)).uids).toEqual(['1.1']);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(results.warnings).toEqual([
      'dental: connect ECONNREFUSED',
      'merged-hospital: no complete answer to the search within 150 ms',
    ]);
  });

  it("fails only when every member failed, with the best member's error", async () => {
    const first = new ArchiveError('timeout', 'no answer', {}, 'PACS A');
    const results = federatedSearch(
      [member('a', first), member('b', new Error('refused'), { priority: 2 })],
      request(),
    );
    await expect(collect(results)).rejects.toBe(first);
  });

  it('skips a member that keeps failing until its back-off has passed, then tries it once', async () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failures: 2, backoffMs: 10_000, maxBackoffMs: 60_000 }, () => now);
    const flaky = member('flaky', new Error('down'), { breaker });
    const main = member('main', ['1.1'], { priority: 2 });
    for (let i = 0; i < 2; i++) await collect(federatedSearch([flaky, main], request()));
    expect(flaky.asked).toHaveLength(2);
    const skipped = federatedSearch([flaky, main], request());
    expect((await collect(skipped)).uids).toEqual(['1.1']);
    expect(flaky.asked).toHaveLength(2);
    expect(skipped.warnings).toEqual(['flaky: skipped: it failed its last searches; it is asked again in 10 s']);
    now = 10_001; // half-open: one trial, which fails and opens it again for twice as long
    await collect(federatedSearch([flaky, main], request()));
    expect(flaky.asked).toHaveLength(3);
    now = 20_000;
    await collect(federatedSearch([flaky, main], request()));
    expect(flaky.asked).toHaveLength(3);
    expect(breaker.retryInMs).toBe(10_001);
  });
});
