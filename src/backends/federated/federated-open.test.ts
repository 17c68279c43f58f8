import { describe, it, expect } from 'vitest';
import type { InstanceStream, RetrieveScope } from '../../archive/archive.js';
import { ArchiveError } from '../../archive/archive-error.js';
import { federatedOpen, federatedReadiness, type RetrievalMember } from './federated-open.js';

const scope: RetrieveScope = { study: '1.2.3' };

/** A member whose open answers a stream, fails with `error`, and whose readiness answers or fails likewise. */
function member(name: string, priority: number, error?: Error): RetrievalMember & { opened: number } {
  const m = {
    name,
    priority,
    opened: 0,
    archive: {
      async open(): Promise<InstanceStream> {
        m.opened++;
        if (error) throw error;
        return {
          fromCache: false,
          missing: 0,
          failedSubOperations: 0,
          async *[Symbol.asyncIterator]() {},
        } as InstanceStream;
      },
      async readiness(): Promise<Record<string, unknown>> {
        if (error) throw error;
        return { echo: 'success' };
      },
    },
  };
  return m;
}

describe('retrieval across the members of a tenant', () => {
  it('asks the member that answered the search first, then the others by priority, moving on past failures', async () => {
    const main = member('main', 1, new ArchiveError('unreachable', 'connect ECONNREFUSED', {}, 'PACS MAIN'));
    const cardio = member('cardio', 2);
    const local = member('local', 3);
    await federatedOpen([local, cardio, main], scope);
    expect([main.opened, cardio.opened, local.opened]).toEqual([1, 1, 0]);
    await federatedOpen([local, cardio, main], scope, { holder: 'local' });
    expect([main.opened, cardio.opened, local.opened]).toEqual([1, 1, 1]);
  });

  it('answers 404 when no member holds the scope, and the best real failure otherwise, with every reason', async () => {
    const notHere = (n: string): ArchiveError => new ArchiveError('not-found', `study 1.2.3 is not known to ${n}`);
    const none = await federatedOpen([member('a', 1, notHere('a')), member('b', 2, notHere('b'))], scope).catch(
      (e: unknown) => e,
    );
    expect(none).toMatchObject({ kind: 'not-found', message: 'no archive of this tenant holds study 1.2.3' });
    const down = new ArchiveError('timeout', 'no answer', { phase: 'association' }, 'PACS B');
    const failed = await federatedOpen([member('a', 1, notHere('a')), member('b', 2, down)], scope).catch(
      (e: unknown) => e,
    );
    expect(failed).toMatchObject({
      kind: 'timeout',
      archive: 'PACS B',
      detail: { phase: 'association', members: { a: 'study 1.2.3 is not known to a', b: 'no answer' } },
    });
  });

  it('is ready when any member answers (or only when all do), naming what each said', async () => {
    const members = [member('main', 1), member('dental', 2, new Error('connection refused'))];
    expect(await federatedReadiness(members)).toEqual({
      members: { main: { ready: true, echo: 'success' }, dental: { ready: false, reason: 'connection refused' } },
    });
    await expect(federatedReadiness(members, 'all')).rejects.toMatchObject({
      kind: 'not-ready',
      message: 'every member must answer; 1 of 2 did',
    });
    await expect(federatedReadiness([member('x', 1, new Error('down'))])).rejects.toMatchObject({ kind: 'not-ready' });
  });
});
