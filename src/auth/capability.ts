import { canonicalPath } from './canonical.js';
import { constantTimeEqual, hmac, type KeyRing } from './signed-url.js';

/**
 * Capabilities (docs/security.md): one token that lets a viewer GET every resource under a path prefix — a study,
 * say, with its metadata, frames and renderings — until it expires. Passed as `?capability=` or as
 * `Authorization: Bearer dwgcap.…`.
 *
 *   token   = "dwgcap." base64url(payload JSON) "." base64url(HMAC-SHA256(key, "DWG1-CAPABILITY" LF payload part))
 *   payload = { "v": 1, "kid": key id, "prefix": canonical path prefix, "exp": Unix seconds }
 */

export const CAPABILITY_PREFIX = 'dwgcap.';
const SCHEME = 'DWG1-CAPABILITY';

export interface Capability {
  kid: string;
  prefix: string;
  exp: number;
}

export interface CapabilityCheck {
  ok: boolean;
  reason?: string;
  capability?: Capability;
}

export function mintCapability(prefix: string, options: { kid: string; key: Buffer; expires: number }): string {
  const canonical = canonicalPath(prefix.replace(/\/+$/, ''));
  if (!canonical) throw new Error(`"${prefix}" is not a usable path prefix`);
  const payload = Buffer.from(
    JSON.stringify({ v: 1, kid: options.kid, prefix: canonical, exp: options.expires }),
  ).toString('base64url');
  return `${CAPABILITY_PREFIX}${payload}.${hmac(options.key, `${SCHEME}\n${payload}`)}`;
}

/** Checks a capability token for GET of `path` (canonical form compared, so escapes do not matter). */
export function verifyCapability(
  token: string,
  method: string,
  path: string,
  keys: KeyRing,
  nowSeconds: number,
  maxTtlSeconds: number,
): CapabilityCheck {
  if (!token.startsWith(CAPABILITY_PREFIX)) return { ok: false, reason: 'not a capability token' };
  const [payloadPart, signature, extra] = token.slice(CAPABILITY_PREFIX.length).split('.');
  if (!payloadPart || !signature || extra !== undefined) return { ok: false, reason: 'malformed capability token' };
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed capability payload' };
  }
  const p = payload as Partial<Capability> & { v?: number };
  if (
    p.v !== 1 ||
    typeof p.kid !== 'string' ||
    typeof p.prefix !== 'string' ||
    typeof p.exp !== 'number' ||
    !Number.isInteger(p.exp)
  )
    return { ok: false, reason: 'malformed capability payload' };
  const key = keys.get(p.kid);
  if (!key) return { ok: false, reason: `no signing key "${p.kid}"` };
  if (!constantTimeEqual(hmac(key, `${SCHEME}\n${payloadPart}`), signature))
    return { ok: false, reason: 'the capability signature does not match' };
  if (p.exp < nowSeconds)
    return { ok: false, reason: `the capability expired at ${new Date(p.exp * 1000).toISOString()}` };
  if (p.exp > nowSeconds + maxTtlSeconds)
    return { ok: false, reason: `the capability expires more than ${maxTtlSeconds} s ahead` };
  if (method !== 'GET' && method !== 'HEAD') return { ok: false, reason: 'a capability allows GET only' };
  const target = canonicalPath(path);
  if (!target || !(target === p.prefix || target.startsWith(`${p.prefix}/`)))
    return { ok: false, reason: `the capability covers ${p.prefix}, not this path` };
  return { ok: true, capability: { kid: p.kid, prefix: p.prefix, exp: p.exp } };
}
