import type { PacsPeer } from './pacs-peer.js';
import { buildIdentifier, untilComplete } from './find.js';
import { ArchiveError } from '../../archive/archive-error.js';
import type { Dataset } from '../../dicom/dataset.js';
import type { CatalogInstance, MatchKey, RetrieveScope } from '../../archive/archive.js';
import { byNumber } from '../../archive/catalog.js';
import { tag, Tags, type Tag } from '../../dicom/tag.js';

export interface CatalogSeries {
  uid: string;
  modality: string;
  number: number | undefined;
}

const Modality = tag(0x0008, 0x0060);

/**
 * What a study holds, from the PACS's C-FIND (PS3.4 C.4.1, baseline hierarchical): series with modality and
 * number, instances with SOP class and number. Rendering uses it to pick a thumbnail's instance and to know
 * before retrieving anything which instances it cannot render.
 */
export class StudyCatalog {
  constructor(private readonly peer: PacsPeer) {}

  async series(study: string): Promise<CatalogSeries[]> {
    const found = await this.find('SERIES', { study }, [[Tags.SeriesInstanceUID], [Modality], [Tags.SeriesNumber]]);
    return found
      .map((ds) => ({
        uid: ds.getString(Tags.SeriesInstanceUID) ?? '',
        modality: ds.getString(Modality) ?? '',
        number: ds.getNumber(Tags.SeriesNumber),
      }))
      .filter((s) => s.uid)
      .sort(byNumber);
  }

  /** The instances of a series (or the one with SOP Instance UID `sop`), by Instance Number. */
  async instances(study: string, series: string, sop?: string): Promise<CatalogInstance[]> {
    const matches: MatchKey[] = sop ? [{ path: [Tags.SOPInstanceUID], vr: 'UI', value: sop }] : [];
    const found = await this.find(
      'IMAGE',
      { study, series },
      [[Tags.SOPInstanceUID], [Tags.SOPClassUID], [Tags.InstanceNumber]],
      matches,
    );
    return found
      .map((ds) => ({
        uid: ds.getString(Tags.SOPInstanceUID) ?? '',
        seriesUid: series,
        sopClassUid: ds.getString(Tags.SOPClassUID) ?? '',
        number: ds.getNumber(Tags.InstanceNumber),
      }))
      .filter((i) => i.uid)
      .sort(byNumber);
  }

  /** A study's or series' instances (or the one instance of an instance scope), series by series. */
  async contents(scope: RetrieveScope): Promise<CatalogInstance[][]> {
    const seriesUids = scope.series ? [scope.series] : (await this.series(scope.study)).map((s) => s.uid);
    const out: CatalogInstance[][] = [];
    for (const series of seriesUids) out.push(await this.instances(scope.study, series, scope.instance));
    return out;
  }

  private async find(
    level: 'SERIES' | 'IMAGE',
    parents: { study: string; series?: string },
    returns: Tag[][],
    matches: MatchKey[] = [],
  ): Promise<Dataset[]> {
    const session = await this.peer.find(buildIdentifier(level, { matches, returns }, parents), {
      fuzzyMatching: false,
    });
    const out: Dataset[] = [];
    // A listing the PACS cut short would make a partial retrieval look complete: that is a failure here.
    const incomplete = (): never => {
      throw new ArchiveError('failed', 'it cancelled the listing C-FIND (status FE00) without being asked to', {
        dimseStatus: '0xFE00',
      });
    };
    for await (const ds of untilComplete(session, incomplete)) out.push(ds);
    return out;
  }
}
