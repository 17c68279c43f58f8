import {
  createRemoteJWKSet,
  importJWK,
  importSPKI,
  jwtVerify,
  errors,
  decodeProtectedHeader,
  type JWTPayload,
  type JWK,
  type CryptoKey,
  type KeyObject,
} from 'jose';

/**
 * OAuth 2.0 bearer tokens (RFC 6750) that are JWTs from a configured issuer (RFC 9068 access tokens): the
 * signature against the issuer's keys — a JWKS URL, cached and fetched again for an unknown `kid`, or static
 * keys — then `iss`, `aud`, `exp` and `nbf` with a small clock skew. Only asymmetric algorithms are accepted, so
 * neither `alg: none` nor an HMAC "signed" with a public key can pass.
 */

/** What the gateway lets a token do; scopes in the token map to these (auth.oauth.scopes). */
export type Right = 'read' | 'write' | 'sign';

export interface BearerOptions {
  issuer: string;
  audience: string;
  /** The issuer's JWKS (RFC 7517) URL. */
  jwksUrl?: string;
  /** Static public keys: PEM (SPKI) text or JWK JSON, each with the `kid` tokens name it by. */
  keys?: { kid: string; key: string }[];
  clockSkewSeconds: number;
  /** Least time between two JWKS fetches for unknown kids (default 5 s): a rotated key is seen within it. */
  jwksCooldownMs?: number;
  /** Scope values (space-separated `scope` or array `scp` claim) that grant each right. */
  scopes: Record<Right, string>;
}

export type BearerCheck =
  { ok: true; subject: string; rights: Set<Right>; claims: JWTPayload } | { ok: false; reason: string };

/** Signature algorithms accepted: asymmetric only (RFC 8725 §3.1: no `none`, no algorithm confusion). */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

type Key = CryptoKey | KeyObject | Uint8Array;

export class BearerVerifier {
  private readonly remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  private staticKeys: Promise<Map<string, Key>> | undefined;

  constructor(private readonly options: BearerOptions) {
    // jose caches the set, and fetches it again when a token names a kid it does not hold — at most once per
    // cooldown, so that tokens with made-up kids cannot make the gateway hammer the issuer.
    this.remote = options.jwksUrl
      ? createRemoteJWKSet(new URL(options.jwksUrl), {
          cooldownDuration: options.jwksCooldownMs ?? 5_000,
          cacheMaxAge: 10 * 60_000,
          timeoutDuration: 5_000,
        })
      : undefined;
  }

  private loadStatic(): Promise<Map<string, Key>> {
    this.staticKeys ??= (async () => {
      const map = new Map<string, Key>();
      for (const { kid, key } of this.options.keys ?? []) {
        const text = key.trim();
        if (text.startsWith('{')) {
          const jwk = JSON.parse(text) as JWK;
          map.set(kid, (await importJWK(jwk, jwk.alg ?? algFromJwk(jwk))) as Key);
        } else {
          map.set(kid, (await importSPKI(text, pemAlgorithm(text))) as Key);
        }
      }
      return map;
    })();
    return this.staticKeys;
  }

  async verify(token: string): Promise<BearerCheck> {
    try {
      const header = decodeProtectedHeader(token);
      if (!header.alg || !ALGORITHMS.includes(header.alg))
        return { ok: false, reason: `algorithm ${header.alg ?? '(none)'} is not accepted` };
      const verifyOptions = {
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockSkewSeconds,
        algorithms: ALGORITHMS,
        requiredClaims: ['exp'],
      };
      let result;
      if (this.remote) {
        const remote = this.remote;
        // A key set that cannot be fetched is the issuer's problem, not the token's: say so (still 401).
        const keyOf = (
          protectedHeader: Parameters<typeof remote>[0],
          jws: Parameters<typeof remote>[1],
        ): ReturnType<typeof remote> =>
          remote(protectedHeader, jws).catch((err: unknown) => {
            if (err instanceof errors.JOSEError) throw err;
            throw new KeySetUnreachable(this.options.jwksUrl ?? '', err);
          });
        result = await jwtVerify(token, keyOf, verifyOptions);
      } else {
        const keys = await this.loadStatic();
        const key = keys.get(header.kid ?? '') ?? (keys.size === 1 && !header.kid ? [...keys.values()][0] : undefined);
        if (!key) return { ok: false, reason: `no key for kid "${header.kid ?? ''}"` };
        result = await jwtVerify(token, key, verifyOptions);
      }
      const claims = result.payload;
      return { ok: true, subject: claims.sub ?? '(no subject)', rights: this.rightsOf(claims), claims };
    } catch (err) {
      return { ok: false, reason: describe(err) };
    }
  }

  /** The scope value a right needs (for `WWW-Authenticate: … scope="…"`, RFC 6750 §3). */
  scopeFor(right: Right): string {
    return this.options.scopes[right];
  }

  private rightsOf(claims: JWTPayload): Set<Right> {
    const granted = new Set<string>();
    if (typeof claims.scope === 'string') for (const s of claims.scope.split(/\s+/)) granted.add(s);
    const scp = (claims as { scp?: unknown }).scp;
    if (Array.isArray(scp)) for (const s of scp) if (typeof s === 'string') granted.add(s);
    const rights = new Set<Right>();
    for (const [right, scope] of Object.entries(this.options.scopes) as [Right, string][])
      if (granted.has(scope)) rights.add(right);
    return rights;
  }
}

function algFromJwk(jwk: JWK): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') return jwk.crv === 'P-384' ? 'ES384' : jwk.crv === 'P-521' ? 'ES512' : 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  throw new Error(`unsupported JWK key type ${jwk.kty}`);
}

/** importSPKI needs an algorithm; an EC key is told by its curve, anything else is taken as RSA. */
function pemAlgorithm(pem: string): string {
  return /EC PUBLIC|BggqhkjOPQ/.test(pem) ? 'ES256' : 'RS256';
}

/** The issuer's JWKS could not be fetched (connection refused, DNS, TLS): no verdict on the token itself. */
class KeySetUnreachable extends Error {
  constructor(url: string, cause: unknown) {
    const why =
      (cause as { cause?: { code?: string } } | undefined)?.cause?.code ??
      (cause as Error | undefined)?.message ??
      String(cause);
    super(`the issuer's key set ${url} could not be fetched (${why}); the token could not be checked`);
  }
}

function describe(err: unknown): string {
  if (err instanceof KeySetUnreachable) return err.message;
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim ${err.claim} is not acceptable: ${err.reason}`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the issuer matches the token';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid)
    return `the issuer's keys could not be fetched: ${(err as Error).message}`;
  if (err instanceof errors.JOSEError) return (err as Error).message;
  return 'the token is malformed';
}
