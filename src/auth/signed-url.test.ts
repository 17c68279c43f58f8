import { describe, it, expect } from 'vitest';
import { createHmac } from 'node:crypto';
import { signUrl, verifySignedUrl, stringToSign } from './signed-url.js';
import { canonicalPath, canonicalQuery, queryPairs, rfc3986 } from './canonical.js';
import { mintCapability, verifyCapability } from './capability.js';

const key = Buffer.alloc(32, 7);
const keys = new Map([['k1', key]]);
const NOW = 1_800_000_000;
const verify = (url: string, now = NOW, ring = keys): ReturnType<typeof verifySignedUrl> =>
  verifySignedUrl('GET', url, ring, now, 7 * 86400);

describe('canonical forms (RFC 3986)', () => {
  it('encodes everything but unreserved characters, upper-case hex, UTF-8', () => {
    expect(rfc3986('a-b_c.d~e')).toBe('a-b_c.d~e');
    expect(rfc3986('image/png,1 2+é')).toBe('image%2Fpng%2C1%202%2B%C3%A9');
  });
  it('gives equivalent spellings one form, refuses dot segments and bad escapes', () => {
    expect(canonicalPath('/dicomweb/studies/1.2/frames/1,2/rendered')).toBe(
      canonicalPath('/dicomweb/studies/1.2/frames/1%2C2/rendered'),
    );
    expect(canonicalPath('/dicomweb/studies/../x')).toBeUndefined();
    expect(canonicalPath('/dicomweb/%2e%2e/x')).toBeUndefined();
    expect(canonicalPath('/dicomweb/a%2Fb')).toBeUndefined();
    expect(queryPairs('a=%zz')).toBeUndefined();
  });
  it('sorts parameters by name then value and leaves the excluded out', () => {
    expect(canonicalQuery(queryPairs('b=2&a=z&a=y&signature=x') ?? [], new Set(['signature']))).toBe('a=y&a=z&b=2');
  });
});

describe('signed URLs', () => {
  const url = signUrl('/dicomweb/studies/1.2.3/thumbnail?viewport=64,64&accept=image/png', {
    kid: 'k1',
    key,
    expires: NOW + 3600,
  });

  it('verifies what it signed, whatever the escaping of the parameters', () => {
    expect(verify(url)).toMatchObject({ ok: true, kid: 'k1' });
    expect(verify(url.replace('viewport=64%2C64', 'viewport=64,64'))).toMatchObject({ ok: true });
  });

  it('is an HMAC-SHA256 over the documented string (docs/security.md)', () => {
    const signature = new URLSearchParams(url.split('?')[1]).get('signature');
    const expected = createHmac('sha256', key)
      .update(
        `DWG1-HMAC-SHA256\nGET\n/dicomweb/studies/1.2.3/thumbnail\naccept=image%2Fpng&expires=${NOW + 3600}&kid=k1&viewport=64%2C64`,
      )
      .digest('base64url');
    expect(signature).toBe(expected);
    expect(stringToSign('get', '/p', 'q')).toBe('DWG1-HMAC-SHA256\nGET\n/p\nq');
  });

  it.each([
    ['a changed parameter', (u: string) => u.replace('viewport=64%2C64', 'viewport=65%2C64'), 'mismatch'],
    ['an added parameter', (u: string) => `${u}&window=40,400`, 'mismatch'],
    ['a changed path', (u: string) => u.replace('1.2.3', '1.2.4'), 'mismatch'],
    ['a changed expiry', (u: string) => u.replace(`expires=${NOW + 3600}`, `expires=${NOW + 7200}`), 'mismatch'],
    ['no signature', (u: string) => u.replace(/&signature=[^&]*/, ''), 'missing'],
    ['a malformed signature', (u: string) => u.replace(/signature=[^&]*/, 'signature=abc'), 'malformed'],
    ['two signatures', (u: string) => `${u}&signature=x`, 'malformed'],
    ['an unknown key', (u: string) => u.replace('kid=k1', 'kid=k9'), 'unknown-key'],
  ])('refuses %s', (_name, change, problem) => {
    expect(verify(change(url))).toMatchObject({ ok: false, problem });
  });

  it('refuses an expired URL, and one that would live longer than the maximum', () => {
    expect(verify(url, NOW + 3601)).toMatchObject({ ok: false, problem: 'expired' });
    const long = signUrl('/dicomweb/studies/1/thumbnail', { kid: 'k1', key, expires: NOW + 30 * 86400 });
    expect(verify(long)).toMatchObject({ ok: false, problem: 'too-long' });
  });

  it('keeps URLs signed with an old key valid while the key is configured (rotation)', () => {
    const newKey = Buffer.alloc(32, 9);
    const rotated = new Map([
      ['k2', newKey],
      ['k1', key],
    ]);
    expect(verify(url, NOW, rotated)).toMatchObject({ ok: true, kid: 'k1' });
    expect(
      verify(signUrl('/dicomweb/x/thumbnail', { kid: 'k2', key: newKey, expires: NOW + 60 }), NOW, rotated),
    ).toMatchObject({ ok: true, kid: 'k2' });
    expect(verify(url, NOW, new Map([['k2', newKey]]))).toMatchObject({ ok: false, problem: 'unknown-key' });
  });
});

describe('capabilities', () => {
  const token = mintCapability('/dicomweb/studies/1.2.3', { kid: 'k1', key, expires: NOW + 600 });
  const check = (path: string, t = token, method = 'GET', now = NOW): boolean =>
    verifyCapability(t, method, path, keys, now, 86400).ok;

  it('covers the prefix and everything under it, for GET only, until it expires', () => {
    expect(check('/dicomweb/studies/1.2.3')).toBe(true);
    expect(check('/dicomweb/studies/1.2.3/series/4/instances/5/frames/1/rendered')).toBe(true);
    expect(check('/dicomweb/studies/1.2.34')).toBe(false);
    expect(check('/dicomweb/studies/1.2.3/../1.2.4')).toBe(false);
    expect(check('/dicomweb/studies')).toBe(false);
    expect(check('/dicomweb/studies/1.2.3', token, 'POST')).toBe(false);
    expect(check('/dicomweb/studies/1.2.3', token, 'GET', NOW + 601)).toBe(false);
  });

  it('cannot be widened: a payload edited to another prefix fails its signature', () => {
    const [, payload, signature] = /^dwgcap\.([^.]+)\.(.+)$/.exec(token) as RegExpExecArray;
    const edited = JSON.parse(Buffer.from(payload as string, 'base64url').toString()) as Record<string, unknown>;
    edited.prefix = '/dicomweb';
    const forged = `dwgcap.${Buffer.from(JSON.stringify(edited)).toString('base64url')}.${signature}`;
    expect(verifyCapability(forged, 'GET', '/dicomweb/studies/9', keys, NOW, 86400)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/signature/),
    });
  });
});
