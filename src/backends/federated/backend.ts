import path from 'node:path';
import { formatCapabilities, probeCommand } from '../../commands/probe-command.js';
import type { FederationMember } from '../../config/schema.js';
import { embeddedSettings, type TenantSettings } from '../../tenant-settings.js';
import type { BackendModule, EchoResult, PacsReport } from '../backend.js';
import { address, dimseBackend, echoEach } from '../dimse/backend.js';
import { DimseArchive } from '../dimse/dimse-archive.js';
import { RetrievalHub } from '../dimse/retrieval-hub.js';
import { embeddedBackend } from '../embedded/backend.js';
import { EmbeddedArchive } from '../embedded/embedded-archive.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { FederatedArchive, type MemberArchive } from './federated-archive.js';

type PacsMember = Extract<FederationMember, { kind: 'dimse' }>;
type ArchiveMember = Extract<FederationMember, { kind: 'embedded' }>;

const pacsMembers = (t: TenantSettings): PacsMember[] => t.members.filter((m): m is PacsMember => m.kind === 'dimse');
const archiveMember = (t: TenantSettings): ArchiveMember | undefined =>
  t.members.find((m): m is ArchiveMember => m.kind === 'embedded');
/** The tenant as one PACS member alone would configure it. */
const asPacsTenant = (t: TenantSettings, m: PacsMember): TenantSettings => ({ ...t, backend: 'dimse', pacs: m.pacs });
/** The tenant as its embedded member alone would configure it. */
const asArchiveTenant = (t: TenantSettings, m: ArchiveMember): TenantSettings => ({
  ...t,
  backend: 'embedded',
  archive: m.archive,
});

/** The member STOW-RS and import store into: `stow.target`, else the embedded archive, else the first PACS. */
function storeTargetOf(t: TenantSettings): FederationMember {
  const byPriority = [...t.members].sort((a, b) => a.priority - b.priority);
  const named = t.members.find((m) => m.name === t.stowTarget);
  return named ?? archiveMember(t) ?? (byPriority[0] as FederationMember);
}

const describeMember = (m: FederationMember): string =>
  m.kind === 'dimse' ? `${m.name} (PACS ${address(m.pacs)})` : `${m.name} (embedded archive in ${m.archive.dir})`;

/**
 * Several archives behind one tenant (`pacs` as a list): PACS members retrieved into one cache through one
 * Storage SCP (retrieval-hub.ts), and at most one embedded archive, which keeps what arrives.
 */
export const federatedBackend: BackendModule = {
  describe: (t) => `the archives ${t.members.map(describeMember).join(', ')}`,
  identity: (t) => ({ archives: t.members.map(describeMember).join(', ') }),
  startWarnings: (t) => {
    const own = archiveMember(t);
    return own ? embeddedBackend.startWarnings(asArchiveTenant(t, own)) : [];
  },
  async start(t, { config, codecs, metrics, hooks }) {
    const log = hooks.logger;
    const hub = await RetrievalHub.open(t.cache, t.dimse, log);
    const members: MemberArchive[] = [];
    const pacs: { member: PacsMember; archive: DimseArchive }[] = [];
    let kept: EmbeddedArchive | undefined;
    const breaker = (): CircuitBreaker => new CircuitBreaker(config.federation.breaker);
    try {
      for (const m of t.members) {
        if (m.kind === 'dimse') {
          const archive = await DimseArchive.start(
            {
              ...asPacsTenant(t, m),
              qido: config.qido,
              codecs,
              ...(metrics ? { observer: metrics.pacsObserver(t.id, m.name) } : {}),
            },
            { ...hooks, logger: log.child({ member: m.name }) },
            hub,
          );
          pacs.push({ member: m, archive });
          members.push({
            name: m.name,
            priority: m.priority,
            searchTimeoutMs: m.pacs.searchTimeoutMs,
            archive,
            holds: (scope) => archive.holdsLocally(scope),
            breaker: breaker(),
          });
        } else {
          const archive = await EmbeddedArchive.open(embeddedSettings(asArchiveTenant(t, m), config), log);
          kept = archive;
          hub.keepArrivalsIn(archive);
          members.push({
            name: m.name,
            priority: m.priority,
            searchTimeoutMs: m.searchTimeoutMs,
            archive,
            holds: (scope) => archive.holds(scope),
            breaker: breaker(),
          });
        }
      }
      await hub.listen(hooks);
    } catch (err) {
      await hub.stopListening();
      for (const m of members) await m.archive.close();
      await hub.close();
      throw err;
    }
    const target = storeTargetOf(t);
    const archive = new FederatedArchive(
      members,
      members.find((m) => m.name === target.name),
      config.federation.readyWhen,
      hub,
    );
    const { cache } = hub;
    const lookups = {
      get hits() {
        return pacs.reduce((n, p) => n + p.archive.mediator.lookups.hits, 0);
      },
      get joined() {
        return pacs.reduce((n, p) => n + p.archive.mediator.lookups.joined, 0);
      },
      get misses() {
        return pacs.reduce((n, p) => n + p.archive.mediator.lookups.misses, 0);
      },
    };
    return {
      archive,
      spoolDir: path.join(target.kind === 'embedded' ? target.archive.dir : t.cache.dir, 'stow-json-spool'),
      readings: () => ({
        pacs: pacs.map((p) => ({ label: p.member.name, pool: () => p.archive.peer.poolStats() })),
        cache: {
          bytes: () => cache.totalBytes,
          instances: () => cache.size,
          budgetBytes: cache.maxBytes,
          lookups,
          evictions: cache.evictions,
        },
        ...(kept ? { archive: { instances: () => (kept as EmbeddedArchive).instanceCount } } : {}),
      }),
      adminReport: () => ({
        members: Object.fromEntries(
          pacs.map(({ member, archive: a }): [string, PacsReport] => [
            member.name,
            {
              retrieval: {
                method: a.peer.retrieval,
                chosenBy: member.pacs.retrieve === 'auto' ? 'probe' : 'configuration',
              },
              probe: a.capabilities.latest ?? null,
            },
          ]),
        ),
      }),
      // Each PACS probed once, in the background, once the gateway listens.
      afterListen: async () => {
        await Promise.allSettled(pacs.filter((p) => p.member.pacs.probeAtStart).map((p) => p.archive.probe()));
      },
    };
  },
  async openImportTarget(t, config) {
    const target = storeTargetOf(t);
    return target.kind === 'dimse'
      ? dimseBackend.openImportTarget(asPacsTenant(t, target), config)
      : embeddedBackend.openImportTarget(asArchiveTenant(t, target), config);
  },
  /** The embedded member's index (the command asks only a tenant that keeps one). */
  reindex(t, config) {
    const own = archiveMember(t);
    if (!own) throw new Error(`tenant ${t.id} keeps no archive of its own`);
    return EmbeddedArchive.reindex(embeddedSettings(asArchiveTenant(t, own), config));
  },
  async probe(t, log) {
    const reports: Record<string, unknown> = {};
    const texts: string[] = [];
    for (const m of pacsMembers(t)) {
      const report = await probeCommand(asPacsTenant(t, m), log);
      reports[m.name] = report;
      texts.push(`# ${describeMember(m)}\n${formatCapabilities(report)}`);
    }
    return { report: { members: reports }, text: texts.join('\n') };
  },
  async echo(t) {
    const results: EchoResult[] = [];
    for (const m of pacsMembers(t)) results.push(...(await echoEach(asPacsTenant(t, m))));
    return results;
  },
};
