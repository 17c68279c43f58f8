import { Dataset } from '../../dicom/dataset.js';
import { Tags, type Tag } from '../../dicom/tag.js';
import type { VR } from '../../dicom/vr.js';
import { vrOf } from '../../dicom/dictionary.js';
import type { QueryLevel } from '../../dicom/query-attributes.js';
import type { MatchKey } from '../../archive/archive.js';
import { ArchiveError } from '../../archive/archive-error.js';
import type { FindSession } from './pacs-peer.js';

/** The unique key of each Study Root level (PS3.4 §C.6.2.1). */
export const UNIQUE_KEY: Record<QueryLevel, Tag> = {
  STUDY: Tags.StudyInstanceUID,
  SERIES: Tags.SeriesInstanceUID,
  IMAGE: Tags.SOPInstanceUID,
};

/** The keys of one Study Root level: what to match on and what to return. */
export interface LevelKeys {
  matches: MatchKey[];
  returns: Tag[][];
}

/** The C-FIND identifier of one level (PS3.4 §C.4.1.1.3): level, charset, unique keys above, return and match keys. */
export function buildIdentifier(
  level: QueryLevel,
  keys: LevelKeys,
  parents: { study?: string; series?: string },
): Dataset {
  const ds = new Dataset();
  ds.setText(Tags.QueryRetrieveLevel, level, 'CS');
  ds.setText(Tags.SpecificCharacterSet, 'ISO_IR 192', 'CS');
  for (const path of keys.returns) setPath(ds, path, undefined, undefined);
  ds.setEmpty(UNIQUE_KEY[level]);
  if (level !== 'STUDY') ds.setEmpty(Tags.StudyInstanceUID);
  if (level === 'IMAGE') ds.setEmpty(Tags.SeriesInstanceUID);
  for (const m of keys.matches) setPath(ds, m.path, m.vr, m.value);
  if (parents.study && level !== 'STUDY') ds.setText(Tags.StudyInstanceUID, parents.study, 'UI');
  if (parents.series && level === 'IMAGE') ds.setText(Tags.SeriesInstanceUID, parents.series, 'UI');
  if (parents.study && level === 'STUDY') ds.setText(Tags.StudyInstanceUID, parents.study, 'UI');
  if (parents.series && level === 'SERIES') ds.setText(Tags.SeriesInstanceUID, parents.series, 'UI');
  return ds;
}

/** Sets a (possibly nested) key: sequences get one item holding the nested keys (sequence matching, PS3.4 §C.2.2.2.6). */
function setPath(ds: Dataset, path: readonly Tag[], vr: VR | undefined, value: string | undefined): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length === 0) {
    const existing = ds.get(head);
    if (value === undefined) {
      if (!existing) ds.setEmpty(head, vr ?? vrOf(head));
      return;
    }
    ds.setText(head, value, vr ?? vrOf(head));
    return;
  }
  const existing = ds.get(head);
  let item: Dataset;
  if (existing?.vr === 'SQ' && existing.items[0]) {
    item = existing.items[0];
  } else {
    item = new Dataset();
    ds.setSequence(head, [item]);
  }
  setPath(item, rest, vr, value);
}

/**
 * A C-FIND's matches, checked at the end: cut short by the PACS (Cancel we did not send) with nothing delivered is
 * a failure (502); with some delivered, `onPartial` says so (a 299 Warning), never a silent short answer.
 */
export async function* untilComplete(
  session: FindSession,
  onPartial: () => void,
): AsyncGenerator<Dataset, void, undefined> {
  let delivered = 0;
  try {
    for await (const ds of session.matches) {
      delivered++;
      yield ds;
    }
  } finally {
    await session.matches.return();
  }
  if (!session.cancelledByPeer) return;
  if (delivered === 0)
    throw new ArchiveError('failed', 'it cancelled the C-FIND (status FE00) without being asked to, before any match', {
      dimseStatus: '0xFE00',
    });
  onPartial();
}
