import type { HeldInstance } from '../archive/archive.js';
import { locateFrames, FrameError, type FrameLocator } from '../codecs/frames.js';
import { pixelFormatOf, PixelFormatError, type PixelFormat } from '../codecs/pixel-format.js';
import { canDecode, isVideoSyntax } from '../codecs/transfer-syntaxes.js';
import type { StoredHeader } from '../dicom/part10-reader.js';
import { Tags } from '../dicom/tag.js';
import { sopKind, type SopKind } from '../render/sop-kind.js';

/** An instance opened for rendering: pinned in the cache while in use. */
export interface Loaded {
  held: HeldInstance;
  header: StoredHeader;
  kind: SopKind;
  /** Set for renderable images. */
  image?: { format: PixelFormat; locator: FrameLocator };
  /** Why an image cannot be rendered, if it cannot. */
  problem?: string;
}

/** What a held instance is, for rendering: an image that can be rendered (and how), or a document, or why not. */
export function loadedInstance(held: HeldInstance, header: StoredHeader): Loaded {
  const kind = sopKind(header.meta.sopClassUid);
  const loaded: Loaded = { held, header, kind };
  if (!header.dataset.has(Tags.PixelData)) {
    loaded.kind = kind === 'image' ? 'other' : kind;
    loaded.problem = 'the instance has no Pixel Data';
    return loaded;
  }
  if (kind !== 'image' && kind !== 'other') return loaded;
  const ts = header.meta.transferSyntaxUid;
  if (isVideoSyntax(ts)) {
    loaded.kind = 'video';
    return loaded;
  }
  if (!canDecode(ts)) {
    loaded.problem = `its transfer syntax ${ts} cannot be decoded`;
    return loaded;
  }
  try {
    loaded.image = { format: pixelFormatOf(header.dataset), locator: locateFrames(header) };
    loaded.kind = 'image';
  } catch (err) {
    if (err instanceof PixelFormatError || err instanceof FrameError) loaded.problem = err.message;
    else throw err;
  }
  return loaded;
}
