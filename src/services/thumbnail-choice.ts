import type { CatalogInstance } from '../archive/archive.js';
import { sopKind } from '../render/sop-kind.js';

/**
 * The instance a study or series thumbnail shows (PS3.18 §10.4.1.1.3 leaves the choice to the origin server):
 * in the first series that has images, its middle image (or its first with `first`); failing any image, the
 * first instance at all (it gets an icon). `catalog` is series by series in catalog order.
 */
export function thumbnailInstance(
  catalog: readonly (readonly CatalogInstance[])[],
  choice: 'middle' | 'first',
): CatalogInstance | undefined {
  let fallback: CatalogInstance | undefined;
  for (const instances of catalog) {
    const images = instances.filter((i) => sopKind(i.sopClassUid) === 'image');
    if (images.length) return images[choice === 'middle' ? Math.floor((images.length - 1) / 2) : 0];
    fallback ??= instances[0];
  }
  return fallback;
}

/** The frame of a multi-frame image a thumbnail shows: the middle one, or the first. */
export const thumbnailFrame = (frames: number, choice: 'middle' | 'first'): number =>
  choice === 'middle' ? Math.ceil(frames / 2) : 1;
