import type { Archive, SearchMatch, SearchRequest, SearchResults } from '../../archive/archive.js';
import { deadline, type CallOptions } from '../../archive/cancellation.js';
import { eitherSignal } from '../../abort.js';
import type { CircuitBreaker } from './circuit-breaker.js';

/** One archive of a tenant's federation, as a search sees it. */
export interface SearchMember {
  /** How Warnings name it. */
  name: string;
  archive: Pick<Archive, 'search'>;
  /** Lower answers first, and wins when two members hold the same match; ties by the members' order. */
  priority: number;
  /** The longest its part of a search may take; past it the search goes on without it. */
  searchTimeoutMs: number;
  /** Skips it while it keeps failing (absent: always asked). */
  breaker?: CircuitBreaker | undefined;
}

/** The key a match is the same match by: the unique key of its level (PS3.4 C.6.2.1), a UID. */
const keyOf = (m: SearchMatch): string => m.uids.instance ?? m.uids.series ?? m.uids.study;

interface Part {
  member: SearchMember;
  items: SearchMatch[];
  done: boolean;
  error: unknown;
  wake: (() => void) | undefined;
}

/**
 * One search over every member at once. The merged answer is defined as: the members in priority order, each
 * member's matches in the order it gave them, a match (by the unique key of the level) already given by a better
 * member left out — so a study in two archives answers once, with the attributes (counts included) of the better
 * one. `offset` and `limit` apply to that merged sequence, exactly: each member is asked for its first
 * offset+limit matches. Matches stream as soon as every better member has finished.
 *
 * A member that fails, refuses, misses its deadline or is skipped by its breaker does not fail the search: a
 * Warning names it and why. Only when every member failed does the search fail, with the best member's error.
 */
export function federatedSearch(
  members: readonly SearchMember[],
  request: SearchRequest,
  options: CallOptions & {
    /** Told of each match given, and the member it came from (which member holds what, for retrieval). */
    onMatch?: (match: SearchMatch, member: string) => void;
  } = {},
): SearchResults {
  const ranked = members
    .map((member, index) => ({ member, index }))
    .sort((a, b) => a.member.priority - b.member.priority || a.index - b.index)
    .map((r) => r.member);
  // Each member's first offset+limit matches suffice: a member cut there holds more than offset+limit distinct
  // matches of its own, and its duplicates of better members are at most what those members gave, so the merged
  // prefix already holds offset+limit distinct matches before any match it did not send.
  const wanted = request.offset + request.limit;
  const warnings: string[] = [];
  const state = { truncated: false };
  // Leaving early (the client stopped reading) stops every member still searching.
  const stop = new AbortController();
  const parts: Part[] = ranked.map((member) => ({ member, items: [], done: false, error: undefined, wake: undefined }));
  const asked: Promise<void>[] = [];

  for (const part of parts) {
    const { member } = part;
    const finish = (): void => {
      part.done = true;
      part.wake?.();
    };
    if (member.breaker && !member.breaker.allows()) {
      part.error = new Error(
        `skipped: it failed its last searches; it is asked again in ${Math.ceil(member.breaker.retryInMs / 1000)} s`,
      );
      warnings.push(`${member.name}: ${(part.error as Error).message}`);
      finish();
      continue;
    }
    const signal = eitherSignal(
      eitherSignal(options.signal, stop.signal),
      deadline(member.searchTimeoutMs, member.name, 'search'),
    );
    const searching = (async () => {
      let results: SearchResults | undefined;
      try {
        results = member.archive.search({ ...request, offset: 0, limit: wanted }, { signal });
        for await (const match of results.matches) {
          part.items.push(match);
          part.wake?.();
        }
        if (results.truncated) state.truncated = true;
        member.breaker?.succeeded();
      } catch (err) {
        part.error = err;
        // A search the client left is no failure of the member's.
        if (!stop.signal.aborted) {
          member.breaker?.failed();
          warnings.push(`${member.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      } finally {
        for (const w of results?.warnings ?? []) warnings.push(`${member.name}: ${w}`);
        finish();
      }
    })();
    asked.push(searching);
  }

  async function* matches(): AsyncGenerator<SearchMatch, void, undefined> {
    const seen = new Set<string>();
    let skipped = 0;
    let given = 0;
    try {
      for (const part of parts) {
        for (let i = 0; ;) {
          if (i < part.items.length) {
            const match = part.items[i++] as SearchMatch;
            const key = keyOf(match);
            if (seen.has(key)) continue;
            seen.add(key);
            if (skipped < request.offset) {
              skipped++;
              continue;
            }
            // One more distinct match than the page holds: the page is truncated, nothing more is needed.
            if (given === request.limit) {
              state.truncated = true;
              return;
            }
            given++;
            options.onMatch?.(match, part.member.name);
            yield match;
            continue;
          }
          if (part.done) break;
          await new Promise<void>((resolve) => {
            part.wake = resolve;
          });
          part.wake = undefined;
        }
      }
      if (parts.length > 0 && parts.every((p) => p.error !== undefined)) {
        const best = parts[0]?.error;
        throw best instanceof Error ? best : new Error(String(best));
      }
    } finally {
      stop.abort(new Error('the search was left'));
    }
  }

  return {
    matches: matches(),
    warnings,
    // Every member answered, failed or was left at its deadline: no Warning comes after this.
    settled: Promise.all(asked).then(() => undefined),
    get truncated() {
      return state.truncated;
    },
  };
}
