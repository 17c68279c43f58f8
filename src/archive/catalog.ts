import type { ArchivedInstance, CatalogInstance } from './archive.js';

/** By number (those without one last), then by UID, so that "first" and "middle" are stable. */
export const byNumber = <T extends { number: number | undefined; uid: string }>(a: T, b: T): number =>
  (a.number ?? Number.MAX_SAFE_INTEGER) - (b.number ?? Number.MAX_SAFE_INTEGER) ||
  (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);

/**
 * Instances held as files, as a catalog: series by series in the order a PACS's catalog gives (series by number,
 * instances by number) — what a thumbnail picks from, with no query.
 */
export function catalogOf(entries: readonly ArchivedInstance[]): CatalogInstance[][] {
  const bySeries = new Map<string, { uid: string; number: number | undefined; instances: CatalogInstance[] }>();
  for (const e of entries) {
    const series = bySeries.get(e.seriesInstanceUid) ?? {
      uid: e.seriesInstanceUid,
      number: e.seriesNumber,
      instances: [],
    };
    series.instances.push({
      uid: e.sopInstanceUid,
      seriesUid: e.seriesInstanceUid,
      sopClassUid: e.sopClassUid,
      number: e.instanceNumber,
    });
    bySeries.set(e.seriesInstanceUid, series);
  }
  return [...bySeries.values()].sort(byNumber).map((s) => s.instances.sort(byNumber));
}
