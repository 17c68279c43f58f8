/**
 * Canonical forms for signing URLs: the same URL written with different, equivalent escapes (`1,2` and `1%2C2`,
 * `image/png` and `image%2Fpng`) signs the same. Every name, value and path segment is percent-decoded, then
 * encoded with RFC 3986's unreserved characters left as they are (§2.3) and everything else as %XX, upper case.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** RFC 3986 §2.1 percent-encoding of everything but the unreserved characters (UTF-8 bytes). */
export function rfc3986(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Percent-decoding that refuses malformed escapes instead of guessing; `+` is a literal plus, not a space. */
export function strictDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** A path with each segment decoded and re-encoded; undefined for a malformed escape or a `.`/`..` segment. */
export function canonicalPath(path: string): string | undefined {
  const segments = path.split('/');
  const out: string[] = [];
  for (const s of segments) {
    const decoded = strictDecode(s);
    if (decoded === undefined || decoded === '.' || decoded === '..' || decoded.includes('/')) return undefined;
    out.push(rfc3986(decoded));
  }
  return out.join('/');
}

/** The query's name/value pairs, decoded, in the order sent (repeated names kept); undefined if malformed. */
export function queryPairs(query: string): [string, string][] | undefined {
  if (query === '') return [];
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = strictDecode(eq < 0 ? part : part.slice(0, eq));
    const value = strictDecode(eq < 0 ? '' : part.slice(eq + 1));
    if (name === undefined || value === undefined) return undefined;
    pairs.push([name, value]);
  }
  return pairs;
}

/** The canonical query: every pair but the excluded names, encoded, sorted by name then value, joined by `&`. */
export function canonicalQuery(pairs: readonly [string, string][], exclude: ReadonlySet<string>): string {
  return pairs
    .filter(([name]) => !exclude.has(name))
    .map(([name, value]) => [rfc3986(name), rfc3986(value)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** Splits a request target into its path and raw query. */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}
