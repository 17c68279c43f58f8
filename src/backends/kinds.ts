/**
 * What the configuration knows of each kind of back end, kept apart from the running modules (registry.ts) so
 * that loading a configuration starts none of them. A new kind adds an entry here and a module there.
 */

/** What these facts read of a tenant's resolved configuration. */
interface KindInput {
  pacs: { retrieve: 'move' | 'get' | 'auto' };
  members: readonly ({ kind: 'dimse'; pacs: { retrieve: 'move' | 'get' | 'auto' } } | { kind: 'embedded' })[];
}

/** A PACS needs our Storage SCP unless it is retrieved by C-GET alone. */
const retrievesByMove = (retrieve: 'move' | 'get' | 'auto'): boolean => retrieve !== 'get';

export const BACKEND_KINDS = {
  /** A PACS over DIMSE: a Storage SCP only where retrievals arrive by C-MOVE (C-GET needs none). */
  dimse: {
    storageScpByDefault: (t: KindInput): boolean => retrievesByMove(t.pacs.retrieve),
    keepsArchive: (): boolean => false,
  },
  /** The embedded archive: its Storage SCP is how modalities store into it; `archive.dir` is its own. */
  embedded: { storageScpByDefault: (): boolean => true, keepsArchive: (): boolean => true },
  /** Several archives behind one tenant: one Storage SCP for every member that needs one. */
  federated: {
    storageScpByDefault: (t: KindInput): boolean =>
      t.members.some((m) => m.kind === 'embedded' || retrievesByMove(m.pacs.retrieve)),
    keepsArchive: (t: Pick<KindInput, 'members'>): boolean => t.members.some((m) => m.kind === 'embedded'),
  },
} as const;

export type BackendKind = keyof typeof BACKEND_KINDS;
