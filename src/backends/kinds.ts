/**
 * What the configuration knows of each kind of back end, kept apart from the running modules (registry.ts) so
 * that loading a configuration starts none of them. A new kind adds an entry here and a module there.
 */

export type BackendKind = 'dimse' | 'embedded' | 'federated';

/** A member of several archives, as these facts read it: a tenant of its own kind would configure the same. */
interface MemberInput {
  kind: Exclude<BackendKind, 'federated'>;
  pacs?: { retrieve: 'move' | 'get' | 'auto' };
}

/** What these facts read of a tenant's resolved configuration. */
interface KindInput {
  pacs?: { retrieve: 'move' | 'get' | 'auto' } | undefined;
  members: readonly MemberInput[];
}

interface KindFacts {
  /** Whether the tenant's Storage SCP listens when `dimse.listen` is not set. */
  storageScpByDefault(t: KindInput): boolean;
  /** Whether it keeps an archive of its own (`archive.dir`), which no other tenant's directory may overlap. */
  keepsArchive(t: KindInput): boolean;
}

/** A member read as a tenant of its own kind. */
const asTenant = (m: MemberInput): KindInput => ({ pacs: m.pacs, members: [] });

export const BACKEND_KINDS: Readonly<Record<BackendKind, KindFacts>> = {
  /** A PACS over DIMSE: a Storage SCP only where retrievals arrive by C-MOVE (C-GET needs none). */
  dimse: {
    storageScpByDefault: (t) => t.pacs?.retrieve !== 'get',
    keepsArchive: () => false,
  },
  /** The embedded archive: its Storage SCP is how modalities store into it; `archive.dir` is its own. */
  embedded: { storageScpByDefault: () => true, keepsArchive: () => true },
  /** Several archives behind one tenant: one Storage SCP for every member that needs one. */
  federated: {
    storageScpByDefault: (t) => t.members.some((m) => BACKEND_KINDS[m.kind].storageScpByDefault(asTenant(m))),
    keepsArchive: (t) => t.members.some((m) => BACKEND_KINDS[m.kind].keepsArchive(asTenant(m))),
  },
};
