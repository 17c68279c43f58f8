import { describe, it, expect } from 'vitest';
import { tenantOwns } from './tenant-scope.js';
import { decide, type AuthPolicy } from './policy.js';
import { mintCapability } from './capability.js';
import { mintTarget, MintError } from './mint.js';

const key = Buffer.alloc(32, 7);
const defaultScope = { base: '/dicomweb', excluded: '/dicomweb/tenants' };
const tenantB = { base: '/dicomweb/tenants/b' };

describe('tenant scopes', () => {
  it('give the default tenant its base minus the tenants subtree, and a tenant only its own base', () => {
    expect(tenantOwns(defaultScope, '/dicomweb')).toBe(true);
    expect(tenantOwns(defaultScope, '/dicomweb/studies/1.2')).toBe(true);
    expect(tenantOwns(defaultScope, '/dicomweb/tenants/b/studies')).toBe(false);
    expect(tenantOwns(defaultScope, '/dicomwebx/studies')).toBe(false);
    expect(tenantOwns(tenantB, '/dicomweb/tenants/b/studies/1.2')).toBe(true);
    expect(tenantOwns(tenantB, '/dicomweb/tenants/bb/studies')).toBe(false);
    expect(tenantOwns(tenantB, '/dicomweb')).toBe(false);
    expect(tenantOwns({ base: '', excluded: '/tenants' }, '/studies')).toBe(true);
    expect(tenantOwns({ base: '', excluded: '/tenants' }, '/tenants/b')).toBe(false);
  });

  it('refuse a capability for a prefix outside the tenant even when the key is the same (defence in depth)', async () => {
    // The configuration forbids tenants sharing a secret; if it happened, the scope still holds.
    const policy: AuthPolicy = {
      mode: 'required',
      scope: tenantB,
      signingKeys: new Map([['k', key]]),
      maxSignedTtlSeconds: 3600,
      apiKeys: [],
      clientCertificates: [],
    };
    const expires = Math.floor(Date.now() / 1000) + 600;
    const whole = mintCapability('/dicomweb', { kid: 'k', key, expires });
    const d = await decide(
      policy,
      { method: 'GET', url: `/dicomweb/tenants/b/studies?capability=${whole}`, headers: {} },
      'read',
      Math.floor(Date.now() / 1000),
    );
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.message).toMatch(/another tenant/);
    const own = mintCapability('/dicomweb/tenants/b/studies', { kid: 'k', key, expires });
    expect(
      (
        await decide(
          policy,
          { method: 'GET', url: `/dicomweb/tenants/b/studies?capability=${own}`, headers: {} },
          'read',
          Math.floor(Date.now() / 1000),
        )
      ).ok,
    ).toBe(true);
  });

  it("refuse to mint for another tenant's paths", () => {
    expect(mintTarget('/studies/1.2', defaultScope)).toBe('/dicomweb/studies/1.2');
    expect(mintTarget('studies/1.2', tenantB)).toBe('/dicomweb/tenants/b/studies/1.2');
    expect(() => mintTarget('/dicomweb/tenants/b/studies', defaultScope)).toThrow(MintError);
    // Relative targets are put under the tenant's base, so a tenant cannot name another's path.
    expect(mintTarget('/dicomweb/studies', tenantB)).toBe('/dicomweb/tenants/b/dicomweb/studies');
  });
});
