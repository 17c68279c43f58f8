import { describe, it, expect } from 'vitest';
import { configSchema } from './schema.js';

const secret = (n: number): string => Buffer.alloc(32, n).toString('base64');
const tenant = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  pacs: { host: '10.0.0.2', port: 104, aeTitle: 'PACSB' },
  dimse: { port: 11113, aeTitle: 'GWB' },
  cache: { dir: '/var/cache/dwg-b' },
  auth: { signingKeys: [{ kid: 'k', secret: secret(2) }] },
  ...over,
});
const parse = (tenants: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  configSchema.safeParse({
    cache: { dir: '/var/cache/dwg' },
    auth: { signingKeys: [{ kid: 'k', secret: secret(1) }] },
    tenants,
    ...top,
  });
const problem = (r: ReturnType<typeof parse>): string =>
  r.success ? '' : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');

describe('tenant configuration', () => {
  it('accepts tenants with their own port, cache, key and audience', () => {
    const r = parse({ b: tenant() });
    expect(problem(r)).toBe('');
    expect(r.success && r.data.tenants.b?.pacs.maxAssociations).toBe(8);
  });

  it.each([
    ['a shared Storage SCP port', { b: tenant({ dimse: { port: 11112 } }) }, /tenants\.b\.dimse\.port: .*"default"/],
    [
      'a cache directory inside another',
      { b: tenant({ cache: { dir: '/var/cache/dwg/b' } }) },
      /tenants\.b\.cache\.dir: .*overlaps/,
    ],
    [
      'a shared signing secret',
      { b: tenant({ auth: { signingKeys: [{ kid: 'other', secret: secret(1) }] } }) },
      /tenants\.b\.auth\.signingKeys\.0\.secret: .*its own/,
    ],
    [
      'the same issuer and audience',
      {
        b: tenant({ auth: { oauth: { issuer: 'https://idp', audience: 'x', jwksUrl: 'https://idp/jwks' } } }),
        c: tenant({
          dimse: { port: 11114 },
          cache: { dir: '/var/cache/dwg-c' },
          auth: { oauth: { issuer: 'https://idp', audience: 'x', jwksUrl: 'https://idp/jwks' } },
        }),
      },
      /tenants\.c\.auth\.oauth\.audience: .*own audience/,
    ],
    ['a tenant called default', { default: tenant() }, /"default" names the top-level tenant/],
    ['a tenant id with a slash', { 'a/b': tenant() }, /tenant ids are/],
    ['a tenant without a cache directory', { b: tenant({ cache: {} }) }, /tenants\.b\.cache\.dir/],
  ])('refuses %s', (_what, tenants, message) => {
    expect(problem(parse(tenants))).toMatch(message);
  });
});
