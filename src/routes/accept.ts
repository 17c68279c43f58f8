/**
 * Accept header parsing for DICOMweb (PS3.18 §8.7): tolerant of quoted and unquoted parameters, q-values,
 * wildcards and several comma-separated media ranges (OHIF sends all of these).
 */
export interface MediaRange {
  type: string;
  subtype: string;
  params: Record<string, string>;
  q: number;
  /** Position in the header, for stable ordering among equal q-values. */
  index: number;
}

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

const unquote = (v: string): string => {
  const t = v.trim();
  return t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))
    ? t.slice(1, -1)
    : t;
};

export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === '') return [];
  const ranges: MediaRange[] = [];
  splitOutsideQuotes(header, ',').forEach((part, index) => {
    const [mediaType = '', ...paramParts] = splitOutsideQuotes(part, ';');
    const [type = '', subtype = ''] = mediaType.trim().toLowerCase().split('/');
    if (!type || !subtype) return;
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of paramParts) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      const value = unquote(p.slice(eq + 1));
      if (key === 'q') {
        const n = Number(value);
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 1;
      } else params[key] = key === 'type' ? value.toLowerCase() : value;
    }
    ranges.push({ type, subtype, params, q, index });
  });
  return ranges;
}

/** A media type the server can produce: its matcher decides whether a range accepts it, and how specifically. */
export interface Offer<T> {
  value: T;
  /** Returns a specificity (higher wins) when the range accepts this offer, else undefined. */
  matches(range: MediaRange): number | undefined;
}

/**
 * Picks the best offer for the ranges: highest q, then most specific, then earliest in the header. No Accept
 * header → the first offer (the default). Nothing acceptable → undefined (406).
 */
export function negotiate<T>(ranges: readonly MediaRange[], offers: readonly Offer<T>[]): T | undefined {
  if (ranges.length === 0) return offers[0]?.value;
  let best: { value: T; q: number; specificity: number; index: number; offer: number } | undefined;
  offers.forEach((offer, offerIndex) => {
    for (const range of ranges) {
      if (range.q <= 0) continue;
      const specificity = offer.matches(range);
      if (specificity === undefined) continue;
      const better =
        !best ||
        range.q > best.q ||
        (range.q === best.q &&
          (specificity > best.specificity ||
            (specificity === best.specificity &&
              (range.index < best.index || (range.index === best.index && offerIndex < best.offer)))));
      if (better) best = { value: offer.value, q: range.q, specificity, index: range.index, offer: offerIndex };
    }
  });
  return best?.value;
}

/** Offer for a plain media type such as application/dicom+json; `aliases` also count as exact. */
export function simpleOffer<T>(value: T, mediaType: string, aliases: string[] = []): Offer<T> {
  const [type] = mediaType.split('/') as [string];
  const exact = new Set([mediaType, ...aliases]);
  return {
    value,
    matches: (r) => {
      if (exact.has(`${r.type}/${r.subtype}`)) return 3;
      if (r.type === type && r.subtype === '*') return 2;
      if (r.type === '*' && r.subtype === '*') return 1;
      return undefined;
    },
  };
}

/** Offer for multipart/related; type="<inner>" (a multipart/related range without type also accepts it). */
export function multipartOffer<T>(value: T, innerType: string): Offer<T> {
  return {
    value,
    matches: (r) => {
      if (r.type === 'multipart' && r.subtype === 'related') {
        const t = r.params.type;
        if (t === undefined) return 2;
        return t === innerType ? 3 : undefined;
      }
      return undefined; // wildcards pick the default (JSON), never multipart
    },
  };
}

export const describeRanges = (ranges: readonly MediaRange[]): string =>
  ranges.map((r) => `${r.type}/${r.subtype}${r.params.type ? `; type="${r.params.type}"` : ''}`).join(', ') || '(none)';
