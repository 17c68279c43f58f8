import type { FederationMember } from '../../config/schema.js';
import type { TenantReadings } from '../../metrics/gateway-metrics.js';
import type { TenantSettings } from '../../tenant-settings.js';
import type { BackendModule, EchoResult, PacsReport, RunningBackend } from '../backend.js';
import { RetrievalHub } from '../retrieval-hub.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { FederatedArchive, type MemberArchive } from './federated-archive.js';

/** The modules of the kinds a member may be, by kind (the registry's). */
export type MemberModules = Readonly<Record<FederationMember['kind'], BackendModule>>;

/** A member as a tenant of its own kind would configure it: the tenant's settings, its own archive or PACS. */
const asTenant = (t: TenantSettings, m: FederationMember): TenantSettings => ({
  ...t,
  backend: m.kind,
  ...('pacs' in m ? { pacs: m.pacs } : { archive: m.archive }),
  members: [],
});

/** The member STOW-RS and import store into: `stow.target`, else one that keeps an archive, else the first. */
function storeTargetOf(t: TenantSettings): FederationMember {
  const byPriority = [...t.members].sort((a, b) => a.priority - b.priority);
  return (
    t.members.find((m) => m.name === t.stowTarget) ??
    byPriority.find((m) => 'archive' in m) ??
    (byPriority[0] as FederationMember)
  );
}

/** What each member's readings say, as one tenant's: every PACS; the one cache they share; the archive. */
function mergedReadings(parts: ReturnType<RunningBackend['readings']>[]): ReturnType<RunningBackend['readings']> {
  const caches = parts.flatMap((p) => (p.cache ? [p.cache] : []));
  const total = (key: 'hits' | 'joined' | 'misses'): number => caches.reduce((n, c) => n + c.lookups[key], 0);
  const [cache] = caches;
  const archive = parts.find((p) => p.archive)?.archive;
  const merged: ReturnType<RunningBackend['readings']> = { pacs: parts.flatMap((p) => p.pacs ?? []) };
  if (cache) {
    const lookups: NonNullable<TenantReadings['cache']>['lookups'] = {
      get hits() {
        return total('hits');
      },
      get joined() {
        return total('joined');
      },
      get misses() {
        return total('misses');
      },
    };
    merged.cache = { ...cache, lookups };
  }
  if (archive) merged.archive = archive;
  return merged;
}

/**
 * Several archives behind one tenant (`pacs` as a list): each member started by the module of its kind, all
 * receiving through one cache and one Storage SCP (retrieval-hub.ts), searched and retrieved as one
 * (federated-archive.ts).
 */
export function federatedBackend(modules: MemberModules): BackendModule {
  const moduleOf = (m: FederationMember): BackendModule => modules[m.kind];
  const describeMember = (t: TenantSettings, m: FederationMember): string =>
    `${m.name} (${moduleOf(m).describe(asTenant(t, m))})`;
  return {
    describe: (t) => `the archives ${t.members.map((m) => describeMember(t, m)).join(', ')}`,
    identity: (t) => ({ archives: t.members.map((m) => describeMember(t, m)).join(', ') }),
    startWarnings: (t) => t.members.flatMap((m) => moduleOf(m).startWarnings(asTenant(t, m))),
    async start(t, context) {
      const { config, hooks } = context;
      const hub = await RetrievalHub.open(t.cache, t.dimse, hooks.logger);
      const running: { member: FederationMember; backend: RunningBackend }[] = [];
      try {
        for (const m of t.members)
          running.push({
            member: m,
            backend: await moduleOf(m).start(asTenant(t, m), { ...context, member: { name: m.name, hub } }),
          });
        await hub.listen(hooks);
      } catch (err) {
        await hub.stopListening();
        for (const r of running) await r.backend.archive.close();
        await hub.close();
        throw err;
      }
      const members: MemberArchive[] = running.map(({ member, backend }) => ({
        name: member.name,
        priority: member.priority,
        searchTimeoutMs: member.searchTimeoutMs,
        archive: backend.archive,
        holds: backend.holds ?? ((scope) => backend.archive.holdsLocally(scope)),
        breaker: new CircuitBreaker(config.federation.breaker),
      }));
      const target = storeTargetOf(t);
      const targetRunning = running.find((r) => r.member === target) as (typeof running)[number];
      const archive = new FederatedArchive(
        members,
        members.find((m) => m.name === target.name),
        config.federation.readyWhen,
        hub,
      );
      return {
        archive,
        spoolDir: targetRunning.backend.spoolDir,
        readings: () => mergedReadings(running.map((r) => r.backend.readings())),
        adminReport: () => ({
          members: Object.fromEntries(
            running.flatMap(({ member, backend }): [string, PacsReport][] => {
              const report = backend.adminReport?.();
              return report && !('members' in report) ? [[member.name, report]] : [];
            }),
          ),
        }),
        afterListen: async () => {
          await Promise.allSettled(running.map((r) => r.backend.afterListen?.()));
        },
      };
    },
    openImportTarget(t, config) {
      const target = storeTargetOf(t);
      return moduleOf(target).openImportTarget(asTenant(t, target), config);
    },
    /** The index of the member that keeps one (the command asks only a tenant that keeps an archive). */
    reindex(t, config) {
      const keeper = t.members.find((m) => moduleOf(m).reindex);
      const rebuilt = keeper && moduleOf(keeper).reindex?.(asTenant(t, keeper), config);
      if (!rebuilt) throw new Error(`tenant ${t.id} keeps no archive of its own`);
      return rebuilt;
    },
    async probe(t, log) {
      const reports: Record<string, unknown> = {};
      const texts: string[] = [];
      for (const m of t.members) {
        const probed = await moduleOf(m).probe?.(asTenant(t, m), log);
        if (!probed) continue;
        const { report, text } = probed;
        reports[m.name] = report;
        texts.push(`# ${describeMember(t, m)}\n${text}`);
      }
      return { report: { members: reports }, text: texts.join('\n') };
    },
    async echo(t) {
      const results: EchoResult[] = [];
      for (const m of t.members) results.push(...((await moduleOf(m).echo?.(asTenant(t, m))) ?? []));
      return results;
    },
  };
}
