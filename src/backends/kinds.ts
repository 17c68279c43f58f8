/**
 * What the configuration knows of each kind of back end, kept apart from the running modules (registry.ts) so
 * that loading a configuration starts none of them. A new kind adds an entry here and a module there.
 */
export const BACKEND_KINDS = {
  /** A PACS over DIMSE: a Storage SCP only where retrievals arrive by C-MOVE (C-GET needs none). */
  dimse: {
    storageScpByDefault: (retrieve: 'move' | 'get' | 'auto'): boolean => retrieve !== 'get',
    keepsArchive: false,
  },
  /** The embedded archive: its Storage SCP is how modalities store into it; `archive.dir` is its own. */
  embedded: { storageScpByDefault: (): boolean => true, keepsArchive: true },
} as const;

export type BackendKind = keyof typeof BACKEND_KINDS;
