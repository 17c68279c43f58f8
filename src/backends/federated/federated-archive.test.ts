import { describe, it, expect } from 'vitest';
import type {
  Archive,
  CatalogInstance,
  InstanceStream,
  RetrieveScope,
  SearchMatch,
  SearchResults,
  StoreStatus,
} from '../../archive/archive.js';
import { ArchiveError } from '../../archive/archive-error.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { FederatedArchive, type MemberArchive } from './federated-archive.js';

const STUDY = '1.2.3';
const match: SearchMatch = { json: {}, uids: { study: STUDY } };

/** A member holding `STUDY` or not, noting what it was asked. */
function member(name: string, priority: number, holds: boolean) {
  const asked: string[] = [];
  const archive = {
    name,
    search(): SearchResults {
      asked.push('search');
      return {
        matches: (async function* () {
          if (holds) yield match;
        })(),
        warnings: [],
        truncated: false,
      };
    },
    async open(scope: RetrieveScope): Promise<InstanceStream> {
      asked.push('open');
      if (!holds) throw new ArchiveError('not-found', `no ${scope.study}`, {}, name);
      return { fromCache: false, missing: 0, failedSubOperations: 0, async *[Symbol.asyncIterator]() {} };
    },
    async catalog(): Promise<CatalogInstance[][]> {
      asked.push('catalog');
      return holds ? [[{ uid: '1.2.3.4', seriesUid: '1.2.3.1', sopClassUid: '1.2', number: 1 }]] : [];
    },
    holdsLocally: () => false,
    async storeInstance(): Promise<StoreStatus> {
      asked.push('store');
      return { status: 0 };
    },
    readiness: async () => ({}),
    close: async () => {},
  } as unknown as Archive;
  const m: MemberArchive = {
    name,
    priority,
    searchTimeoutMs: 1000,
    archive,
    holds: () => false,
    breaker: new CircuitBreaker({ failures: 3, backoffMs: 1000, maxBackoffMs: 1000 }),
  };
  return { m, asked };
}

describe('several archives as one', () => {
  it('opens a study at the member whose search gave it, before better members', async () => {
    const main = member('main', 0, false);
    const cardio = member('cardio', 1, true);
    const federation = new FederatedArchive([main.m, cardio.m], undefined, 'any');
    for await (const _ of federation.search({ level: 'STUDY', keys: [], offset: 0, limit: 10 } as never).matches);
    await federation.open({ study: STUDY });
    expect(main.asked).toEqual(['search']);
    expect(cardio.asked).toEqual(['search', 'open']);
  });

  it('catalogues from the first member that has the scope, an empty answer giving way', async () => {
    const main = member('main', 0, false);
    const cardio = member('cardio', 1, true);
    const federation = new FederatedArchive([main.m, cardio.m], undefined, 'any');
    expect((await federation.catalog({ study: STUDY })).flat()).toHaveLength(1);
    expect([main.asked, cardio.asked]).toEqual([['catalog'], ['catalog']]);
  });

  it('stores into its target, and says so when no member takes instances', async () => {
    const main = member('main', 0, false);
    const local = member('local', 1, false);
    expect((await new FederatedArchive([main.m, local.m], local.m, 'any').storeInstance({} as never)).status).toBe(0);
    expect(local.asked).toEqual(['store']);
    await expect(new FederatedArchive([main.m], undefined, 'any').storeInstance({} as never)).rejects.toMatchObject({
      kind: 'unsupported',
    });
  });
});
