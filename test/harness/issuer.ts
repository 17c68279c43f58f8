/**
 * A real OAuth 2.0 issuer for tests: key pairs made here, a JWKS served on loopback, tokens signed with jose.
 * Rotation swaps the published keys; `requests` counts JWKS fetches.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface TestIssuer {
  issuer: string;
  audience: string;
  jwksUrl: string;
  requests: () => number;
  token(
    claims?: Record<string, unknown>,
    options?: {
      kid?: string;
      expiresIn?: string | number;
      audience?: string;
      issuer?: string;
      notBefore?: string | number;
    },
  ): Promise<string>;
  /** Publishes a new key (kid) alongside or instead of the old ones; later tokens are signed with it. */
  rotate(kid: string, keepOld: boolean): Promise<void>;
  publicJwk(kid: string): JWK;
  close(): Promise<void>;
}

export async function startIssuer(audience = 'dicomweb-gateway'): Promise<TestIssuer> {
  const keys = new Map<string, { privateKey: CryptoKey; jwk: JWK }>();
  let current = '';
  let published: string[] = [];
  let requests = 0;
  const add = async (kid: string): Promise<void> => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
    keys.set(kid, { privateKey, jwk });
    current = kid;
  };
  await add('rsa-1');
  published = ['rsa-1'];
  const server = http.createServer((req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: published.map((kid) => keys.get(kid)?.jwk) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}/`;
  return {
    issuer,
    audience,
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    requests: () => requests,
    async token(claims = {}, options = {}) {
      const kid = options.kid ?? current;
      const key = keys.get(kid);
      if (!key) throw new Error(`no key ${kid}`);
      let jwt = new SignJWT({ scope: 'dicomweb.read', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(options.issuer ?? issuer)
        .setAudience(options.audience ?? audience)
        .setSubject(typeof claims.sub === 'string' ? claims.sub : 'test-client')
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '5m');
      if (options.notBefore !== undefined) jwt = jwt.setNotBefore(options.notBefore);
      return jwt.sign(key.privateKey);
    },
    async rotate(kid, keepOld) {
      await add(kid);
      published = keepOld ? [kid, ...published] : [kid];
    },
    publicJwk: (kid) => keys.get(kid)?.jwk as JWK,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
