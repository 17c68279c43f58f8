/** What a cache entry's bytes cost: the whole buffer under a view (a pooled slab counts in full), plus the entry. */
const ENTRY_OVERHEAD = 256;

/** The bytes a cached view keeps alive, for byte-bounded caches that must hold what they count. */
export function retainedBytes(view: Uint8Array): number {
  return Math.max(view.byteLength, view.buffer.byteLength) + ENTRY_OVERHEAD;
}
