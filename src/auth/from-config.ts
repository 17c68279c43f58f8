import type { z } from 'zod';
import type { authSchema } from '../config/schema.js';
import { BearerVerifier } from './bearer.js';
import type { AuthPolicy } from './policy.js';
import type { TenantScope } from './tenant-scope.js';

export type AuthConfig = z.infer<typeof authSchema>;

/** A configuration that cannot protect anything: `required` without any way to present credentials. */
export function authConfigProblem(auth: AuthConfig): string | undefined {
  const anyCredential =
    auth.signingKeys.length > 0 ||
    auth.oauth ||
    auth.apiKeys.some((k) => !k.revoked) ||
    auth.clientCertificates.length > 0;
  if (auth.mode === 'required' && !anyCredential) {
    return 'auth.mode is "required" but none of auth.signingKeys, auth.oauth, auth.apiKeys and auth.clientCertificates is configured: nobody could get in (auth.mode: none serves without credentials, on loopback only)';
  }
  return undefined;
}

/** The policy a tenant's auth configuration describes. */
export function authPolicy(auth: AuthConfig, scope: TenantScope): AuthPolicy {
  return {
    mode: auth.mode,
    scope,
    signingKeys: new Map(auth.signingKeys.map((k) => [k.kid, Buffer.from(k.secret, 'base64')])),
    maxSignedTtlSeconds: auth.maxSignedTtlSeconds,
    ...(auth.oauth ? { bearer: new BearerVerifier({ ...auth.oauth }) } : {}),
    apiKeys: auth.apiKeys,
    clientCertificates: auth.clientCertificates,
  };
}
