import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Errors } from '../errors.js';
import { mint, mintTarget, MintError, parseTtl } from '../auth/mint.js';
import type { TenantScope } from '../auth/tenant-scope.js';
import type { AuthConfig } from '../auth/from-config.js';
import type { PublicUrl } from './public-url.js';

export interface SignedUrlRouteOptions {
  auth: AuthConfig;
  /** The tenant's paths; `scope.base` is its service base (`/dicomweb`, `/dicomweb/tenants/T`). */
  scope: TenantScope;
  publicUrl: PublicUrl;
}

const body = z
  .object({
    /** Paths (and queries) to sign, relative to the service base or absolute under it. */
    urls: z.array(z.string().min(1).max(2048)).max(1000).default([]),
    /** Path prefixes to mint capabilities for. */
    capabilities: z.array(z.string().min(1).max(2048)).max(100).default([]),
    /** Lifetime: seconds, or a number with s, m, h, d (default 1h). */
    ttl: z.union([z.number().int().positive(), z.string()]).default('1h'),
  })
  .strict();

/**
 * POST {s}/signed-urls — minting for EHR back-ends (docs/security.md): signed URLs for the given paths, and
 * capability tokens for path prefixes. Needs a bearer token with the sign scope (the auth hook checks).
 */
export function registerSignedUrlRoutes(app: FastifyInstance, options: SignedUrlRouteOptions): void {
  app.post('/signed-urls', { config: { action: 'sign', auditEvent: 'authentication' } }, async (request) => {
    const parsed = body.safeParse(request.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw Errors.badParameter(issue?.path.join('.') || 'body', issue?.message ?? 'invalid');
    }
    const ttl = typeof parsed.data.ttl === 'number' ? parsed.data.ttl : parseTtl(parsed.data.ttl);
    if (ttl === undefined)
      throw Errors.badParameter('ttl', `"${parsed.data.ttl}" is not seconds or a number with s, m, h or d`);
    const origin = options.publicUrl(request).slice(0, -options.scope.base.length || undefined);
    try {
      return {
        urls: parsed.data.urls.map((target) => {
          const { value, expires } = mint(options.auth, 'url', mintTarget(target, options.scope), ttl);
          return { target, url: `${origin}${value}`, expires: new Date(expires * 1000).toISOString() };
        }),
        capabilities: parsed.data.capabilities.map((prefix) => {
          const { value, expires } = mint(options.auth, 'capability', mintTarget(prefix, options.scope), ttl);
          return { prefix, token: value, expires: new Date(expires * 1000).toISOString() };
        }),
      };
    } catch (err) {
      if (err instanceof MintError) throw Errors.badParameter('urls', err.message);
      throw err;
    }
  });
}
