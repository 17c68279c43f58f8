import { signUrl } from './signed-url.js';
import { mintCapability } from './capability.js';
import type { AuthConfig } from './from-config.js';
import { tenantOwns, type TenantScope } from './tenant-scope.js';

/** "90", "90s", "15m", "1h", "7d" → seconds. */
export function parseTtl(text: string): number | undefined {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return n > 0 ? n * unit : undefined;
}

export class MintError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MintError';
  }
}

/** The path a target names under a service base (`/dicomweb` or `/dicomweb/tenants/T`): relative targets get it. */
export function underBase(target: string, base: string): string {
  const withSlash = target.startsWith('/') ? target : `/${target}`;
  return withSlash === base || withSlash.startsWith(`${base}/`) || withSlash.startsWith(`${base}?`)
    ? withSlash
    : `${base}${withSlash}`;
}

/** The absolute path to sign for a target, which must be the tenant's own (a tenant never mints for another). */
export function mintTarget(target: string, scope: TenantScope): string {
  const p = underBase(target, scope.base);
  if (!tenantOwns(scope, p))
    throw new MintError(
      `${target} is not under this tenant's base ${scope.base}${scope.excluded ? ` (${scope.excluded}/… belongs to other tenants)` : ''}`,
    );
  return p;
}

/**
 * Signs a URL, or mints a capability, with the first signing key (during a rotation the newest key is listed
 * first, the old ones stay until what they signed has expired). The lifetime is bounded by maxSignedTtlSeconds.
 */
export function mint(
  auth: AuthConfig,
  kind: 'url' | 'capability',
  target: string,
  ttlSeconds: number,
  nowSeconds = Math.floor(Date.now() / 1000),
): { value: string; expires: number } {
  const key = auth.signingKeys[0];
  if (!key) throw new MintError('no signing key is configured (auth.signingKeys)');
  if (ttlSeconds > auth.maxSignedTtlSeconds)
    throw new MintError(
      `a lifetime of ${ttlSeconds} s exceeds auth.maxSignedTtlSeconds (${auth.maxSignedTtlSeconds} s)`,
    );
  const expires = nowSeconds + ttlSeconds;
  const secret = Buffer.from(key.secret, 'base64');
  try {
    const value =
      kind === 'url'
        ? signUrl(target, { kid: key.kid, key: secret, expires })
        : mintCapability(target.split('?')[0] as string, { kid: key.kid, key: secret, expires });
    return { value, expires };
  } catch (err) {
    throw new MintError((err as Error).message);
  }
}
