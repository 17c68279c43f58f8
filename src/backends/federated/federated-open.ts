import type { Archive, InstanceStream, RetrieveScope } from '../../archive/archive.js';
import { ArchiveError } from '../../archive/archive-error.js';
import type { CallOptions } from '../../archive/cancellation.js';

/** One archive of a tenant's federation, as a retrieval or a readiness check sees it. */
export interface RetrievalMember {
  name: string;
  archive: Pick<Archive, 'open' | 'readiness'>;
  priority: number;
}

/** Members in the order a retrieval tries them: the one known to hold the scope first, then by priority. */
export function inTryOrder<M extends RetrievalMember>(members: readonly M[], holder: string | undefined): M[] {
  return members
    .map((member, index) => ({ member, index }))
    .sort(
      (a, b) =>
        Number(b.member.name === holder) - Number(a.member.name === holder) ||
        a.member.priority - b.member.priority ||
        a.index - b.index,
    )
    .map((r) => r.member);
}

/**
 * Opens a scope at the member that holds it: the one whose search answered it (`holder`) first, then the others
 * by priority, each one that fails or does not hold it giving way to the next. The stream comes from the first
 * that opens it; when none does, the answer is 404 if none holds it, else the best member's failure — each
 * member's reason kept in `detail.members`. (A retrieval that fails after its first instance does not move on:
 * its answer has begun.)
 */
export async function federatedOpen(
  members: readonly RetrievalMember[],
  scope: RetrieveScope,
  options: CallOptions & { holder?: string | undefined } = {},
): Promise<InstanceStream> {
  const failures: { member: string; error: unknown }[] = [];
  for (const member of inTryOrder(members, options.holder)) {
    if (options.signal?.aborted) break;
    try {
      return await member.archive.open(scope, { signal: options.signal });
    } catch (error) {
      failures.push({ member: member.name, error });
    }
  }
  const reasons = Object.fromEntries(
    failures.map((f) => [f.member, f.error instanceof Error ? f.error.message : String(f.error)]),
  );
  const real = failures.find((f) => !(f.error instanceof ArchiveError && f.error.kind === 'not-found'));
  if (!real)
    throw new ArchiveError('not-found', `no archive of this tenant holds ${describe(scope)}`, { members: reasons });
  if (real.error instanceof ArchiveError)
    throw new ArchiveError(
      real.error.kind,
      real.error.message,
      { ...real.error.detail, members: reasons },
      real.error.archive,
      real.error.retryAfterSeconds,
    );
  throw real.error;
}

const describe = (scope: RetrieveScope): string =>
  scope.instance ? `instance ${scope.instance}` : scope.series ? `series ${scope.series}` : `study ${scope.study}`;

/** How long `/readyz` waits for each member (below the usual 5 s of a load balancer's or kubelet's probe). */
const READINESS_TIMEOUT_MS = 2000;

/**
 * Readiness of a federation: every member asked at once; ready when at least one answers (`any`, the default:
 * a search still has somewhere to go) or only when all do (`all`). What each member said is reported by name.
 */
export async function federatedReadiness(
  members: readonly RetrievalMember[],
  mode: 'any' | 'all' = 'any',
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  // A member that does not answer in time is not ready: a silent one must not hold up the probe of the others.
  const inTime = async (m: RetrievalMember): Promise<Record<string, unknown>> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([m.archive.readiness(), late]);
    } finally {
      clearTimeout(timer);
    }
  };
  const answers = await Promise.allSettled(members.map(inTime));
  const report = Object.fromEntries(
    members.map((m, i) => {
      const a = answers[i] as PromiseSettledResult<Record<string, unknown>>;
      return [
        m.name,
        a.status === 'fulfilled' ? { ready: true, ...a.value } : { ready: false, reason: (a.reason as Error).message },
      ];
    }),
  );
  const ready = answers.filter((a) => a.status === 'fulfilled').length;
  if (mode === 'all' ? ready < members.length : ready === 0) {
    const needed = mode === 'all' ? 'every member' : 'at least one member';
    throw new ArchiveError(
      'not-ready',
      `${needed} must answer; ${ready} of ${members.length} did`,
      { members: report },
      'the federation',
    );
  }
  return { members: report };
}
