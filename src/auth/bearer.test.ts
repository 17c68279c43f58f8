import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHmac } from 'node:crypto';
import { BearerVerifier } from './bearer.js';
import { startIssuer, type TestIssuer } from '../../test/harness/issuer.js';

const scopes = { read: 'dicomweb.read', write: 'dicomweb.write', sign: 'dicomweb.sign' };
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('bearer tokens (RFC 6750, RFC 9068) against a JWKS served on loopback', () => {
  let idp: TestIssuer;
  let verifier: BearerVerifier;
  beforeAll(async () => {
    idp = await startIssuer();
    verifier = new BearerVerifier({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksUrl: idp.jwksUrl,
      clockSkewSeconds: 30,
      scopes,
      jwksCooldownMs: 100,
    });
  });
  afterAll(() => idp.close());

  it('says the issuer\'s key set could not be fetched (not "malformed") when the JWKS cannot be reached', async () => {
    const gone = await startIssuer();
    const token = await gone.token({});
    await gone.close();
    const orphan = new BearerVerifier({
      issuer: gone.issuer,
      audience: gone.audience,
      jwksUrl: gone.jwksUrl,
      clockSkewSeconds: 30,
      scopes,
    });
    const r = await orphan.verify(token);
    expect(r).toMatchObject({
      ok: false,
      reason: expect.stringMatching(
        /^the issuer's key set http:\/\/127\.0\.0\.1:\d+\S* could not be fetched \(ECONNREFUSED\)/,
      ),
    });
  });

  it('accepts a valid token and maps its scopes to rights', async () => {
    const r = await verifier.verify(await idp.token({ scope: 'dicomweb.read dicomweb.sign openid' }));
    expect(r).toMatchObject({ ok: true, subject: 'test-client' });
    if (r.ok) expect([...r.rights].sort()).toEqual(['read', 'sign']);
    const scp = await verifier.verify(await idp.token({ scope: undefined, scp: ['dicomweb.write'] }));
    if (scp.ok) expect([...scp.rights]).toEqual(['write']);
  });

  it('refuses expired, not-yet-valid, wrong-audience and wrong-issuer tokens, with a small clock skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await verifier.verify(await idp.token({}, { expiresIn: now - 120 }))).toMatchObject({
      ok: false,
      reason: 'the token has expired',
    });
    expect((await verifier.verify(await idp.token({}, { expiresIn: now - 10 }))).ok).toBe(true); // within 30 s of skew
    expect(await verifier.verify(await idp.token({}, { notBefore: now + 600 }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/nbf/),
    });
    expect(await verifier.verify(await idp.token({}, { audience: 'another-service' }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/aud/),
    });
    expect(await verifier.verify(await idp.token({}, { issuer: 'https://evil.example/' }))).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/iss/),
    });
  });

  it('refuses alg none, and an HS256 token "signed" with the issuer\'s public key', async () => {
    const claims = {
      iss: idp.issuer,
      aud: idp.audience,
      sub: 'x',
      scope: 'dicomweb.read',
      exp: Math.floor(Date.now() / 1000) + 300,
    };
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    expect(await verifier.verify(none)).toMatchObject({ ok: false, reason: expect.stringMatching(/none|algorithm/) });
    const jwk = idp.publicJwk('rsa-1');
    const header = b64({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' });
    const body = b64(claims);
    const confused = `${header}.${body}.${createHmac('sha256', JSON.stringify(jwk)).update(`${header}.${body}`).digest('base64url')}`;
    expect(await verifier.verify(confused)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/HS256|algorithm/),
    });
    const tampered = (await idp.token()).replace(
      /\.([^.]+)\./,
      (_m, p: string) => `.${b64({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), scope: 'dicomweb.sign' })}.`,
    );
    expect(await verifier.verify(tampered)).toMatchObject({ ok: false, reason: 'the token signature is not valid' });
    expect(await verifier.verify('not.a.token')).toMatchObject({ ok: false });
  });

  it('fetches the JWKS again for a key it does not know (rotation), and refuses keys withdrawn', async () => {
    const before = idp.requests();
    await idp.rotate('rsa-2', true);
    await new Promise((r) => setTimeout(r, 150)); // the cooldown since the last fetch
    expect((await verifier.verify(await idp.token({}, { kid: 'rsa-2' }))).ok).toBe(true);
    expect(idp.requests()).toBeGreaterThan(before);
    expect((await verifier.verify(await idp.token({}, { kid: 'rsa-1' }))).ok).toBe(true); // old key still published
    const fetches = idp.requests();
    for (let i = 0; i < 5; i++) expect((await verifier.verify(await idp.token({}, { kid: 'rsa-2' }))).ok).toBe(true);
    expect(idp.requests()).toBe(fetches); // cached
    await idp.rotate('rsa-3', false); // rsa-1 and rsa-2 withdrawn
    await new Promise((r) => setTimeout(r, 150));
    expect((await verifier.verify(await idp.token({}, { kid: 'rsa-3' }))).ok).toBe(true);
    expect(await verifier.verify(await idp.token({}, { kid: 'rsa-1' }))).toMatchObject({ ok: false });
  });

  it('verifies against static keys (PEM or JWK) without any JWKS', async () => {
    const jwk = idp.publicJwk('rsa-1');
    const offline = new BearerVerifier({
      issuer: idp.issuer,
      audience: idp.audience,
      keys: [{ kid: 'rsa-1', key: JSON.stringify(jwk) }],
      clockSkewSeconds: 30,
      scopes,
    });
    expect((await offline.verify(await idp.token({}, { kid: 'rsa-1' }))).ok).toBe(true);
    expect(await offline.verify(await idp.token({}, { kid: 'rsa-2' }))).toMatchObject({
      ok: false,
      reason: 'no key for kid "rsa-2"',
    });
  });
});
