import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalPath, canonicalQuery, queryPairs, splitTarget, rfc3986 } from './canonical.js';

/**
 * HMAC-signed, expiring URLs (docs/security.md): an EHR embeds `<img src=".../thumbnail?expires=…&kid=…&signature=…">`
 * and the gateway checks it before any other work. The signature covers the method, the whole path (base path and
 * tenant included) and every query parameter, so changing a window, a viewport or a frame breaks it.
 *
 *   string to sign = "DWG1-HMAC-SHA256" LF METHOD LF canonical path LF canonical query (all parameters but
 *                    `signature`, sorted)
 *   signature      = base64url(HMAC-SHA256(key, string to sign)), no padding
 */

export const SIGNATURE_SCHEME = 'DWG1-HMAC-SHA256';
/** Query parameters that carry credentials; removed before routes see the query. */
export const AUTH_PARAMETERS: ReadonlySet<string> = new Set(['signature', 'expires', 'kid', 'capability']);
const NOT_SIGNED: ReadonlySet<string> = new Set(['signature']);

/**
 * Whether a path is a resource a signed URL opens: rendered and thumbnail resources (what an EHR's <img> loads,
 * PS3.18 §10.4.1.1.3–.4); everything else needs a capability or a bearer token.
 */
export const acceptsSignedUrl = (path: string): boolean => /\/(rendered|thumbnail)$/.test(path);

/** Signing keys by id: several at once so that keys rotate without breaking URLs already handed out. */
export type KeyRing = ReadonlyMap<string, Buffer>;

export type SignatureProblem = 'missing' | 'malformed' | 'unknown-key' | 'expired' | 'too-long' | 'mismatch';

export interface SignatureCheck {
  ok: boolean;
  problem?: SignatureProblem;
  reason?: string;
  kid?: string;
  expires?: number;
}

export function stringToSign(method: string, path: string, canonical: string): string {
  return `${SIGNATURE_SCHEME}\n${method.toUpperCase()}\n${path}\n${canonical}`;
}

export const hmac = (key: Buffer, text: string): string =>
  createHmac('sha256', key).update(text, 'utf8').digest('base64url');

/**
 * A signed URL for `target` (a path with an optional query, e.g. "/dicomweb/studies/1.2.3/thumbnail?viewport=64,64"):
 * adds `expires` and `kid`, then `signature`. The parameters are written canonically.
 */
export function signUrl(
  target: string,
  options: { method?: string; kid: string; key: Buffer; expires: number },
): string {
  const { path, query } = splitTarget(target);
  const cPath = canonicalPath(path);
  const pairs = queryPairs(query);
  if (cPath === undefined || pairs === undefined)
    throw new Error(`cannot sign "${target}": malformed percent-encoding or a dot segment`);
  const rest = pairs.filter(([name]) => !AUTH_PARAMETERS.has(name));
  const signed = [...rest, ['expires', String(options.expires)], ['kid', options.kid]] as [string, string][];
  const cQuery = canonicalQuery(signed, NOT_SIGNED);
  const signature = hmac(options.key, stringToSign(options.method ?? 'GET', cPath, cQuery));
  return `${cPath}?${cQuery}&signature=${rfc3986(signature)}`;
}

/** Equal strings in constant time (for their length), so that a signature cannot be guessed byte by byte. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks the signature of a request target (path and raw query as received). `maxTtlSeconds` bounds how far
 * ahead `expires` may lie, so that no URL lives for ever even if it was minted with a long life.
 */
export function verifySignedUrl(
  method: string,
  target: string,
  keys: KeyRing,
  nowSeconds: number,
  maxTtlSeconds: number,
): SignatureCheck {
  const { path, query } = splitTarget(target);
  const pairs = queryPairs(query);
  const cPath = canonicalPath(path);
  if (pairs === undefined || cPath === undefined)
    return { ok: false, problem: 'malformed', reason: 'the URL has malformed percent-encoding or a dot segment' };
  const one = (name: string): string | undefined | null => {
    const values = pairs.filter(([n]) => n === name).map(([, v]) => v);
    return values.length > 1 ? null : values[0];
  };
  const signature = one('signature');
  const expiresText = one('expires');
  const kid = one('kid');
  if (signature === undefined) return { ok: false, problem: 'missing', reason: 'the URL carries no signature' };
  if (signature === null || expiresText === null || kid === null)
    return { ok: false, problem: 'malformed', reason: 'signature, expires and kid may each appear once' };
  if (expiresText === undefined || !/^\d{1,12}$/.test(expiresText))
    return { ok: false, problem: 'malformed', reason: 'expires must be Unix seconds' };
  if (!kid) return { ok: false, problem: 'malformed', reason: 'kid is missing' };
  if (!/^[A-Za-z0-9_-]{43}$/.test(signature))
    return { ok: false, problem: 'malformed', reason: 'signature must be 43 base64url characters (HMAC-SHA256)' };
  const expires = Number(expiresText);
  const key = keys.get(kid);
  if (!key) return { ok: false, problem: 'unknown-key', reason: `no signing key "${kid}"`, kid, expires };
  // The signature first: an attacker learns nothing about expiry rules from a forged URL.
  const expected = hmac(key, stringToSign(method, cPath, canonicalQuery(pairs, NOT_SIGNED)));
  if (!constantTimeEqual(expected, signature))
    return { ok: false, problem: 'mismatch', reason: 'the signature does not match the URL', kid, expires };
  if (expires < nowSeconds)
    return {
      ok: false,
      problem: 'expired',
      reason: `the URL expired at ${new Date(expires * 1000).toISOString()}`,
      kid,
      expires,
    };
  if (expires > nowSeconds + maxTtlSeconds)
    return { ok: false, problem: 'too-long', reason: `expires lies more than ${maxTtlSeconds} s ahead`, kid, expires };
  return { ok: true, kid, expires };
}
