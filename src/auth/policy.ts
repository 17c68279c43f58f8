import type { FastifyReply, FastifyRequest } from 'fastify';
import { Errors, withHeaders, type GatewayError, type ErrorFactory } from '../errors.js';
import { BearerVerifier, type Right } from './bearer.js';
import { CAPABILITY_PREFIX, verifyCapability } from './capability.js';
import { splitTarget } from './canonical.js';
import { AUTH_PARAMETERS, verifySignedUrl, type KeyRing } from './signed-url.js';
import { tenantOwns, type TenantScope } from './tenant-scope.js';
import { API_KEY_PREFIX, verifyApiKey, type ApiKeyEntry } from './api-keys.js';
import {
  matchClientCertificate,
  peerCertificateOf,
  type ClientCertificateEntry,
  type PeerCertificate,
} from './client-certificates.js';
import '../routes/route-config.js';

/**
 * Who may do what (docs/security.md), checked in an onRequest hook before any route runs — so that a refused
 * request causes no PACS traffic, no cache read and no decoding:
 *
 *   rendered, thumbnail   a valid signed URL, a capability covering the path, or a bearer token with `read`
 *   QIDO-RS, WADO-RS      a bearer token with `read`, or a capability covering the path
 *   STOW-RS (POST …/studies)  a bearer token with `write` (signed URLs and capabilities only ever read)
 *   POST …/signed-urls    a bearer token with `sign`
 *
 * A bearer token is an OAuth access token, or an API key (`dwgk.…`); a verified client certificate mapped in
 * auth.clientCertificates counts as one with the rights it is given.
 *
 * Signed URLs and capabilities that fail → 403 with the reason; no credentials for QIDO/WADO, or a bearer
 * token that fails → 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3); a valid token without the scope → 403.
 */

export interface AuthPolicy {
  /** `none`: everything is allowed (local use only, see startGateway). */
  mode: 'none' | 'required';
  /** The tenant's paths: a capability for a prefix outside them opens nothing here. */
  scope: TenantScope;
  signingKeys: KeyRing;
  maxSignedTtlSeconds: number;
  bearer?: BearerVerifier;
  apiKeys: readonly ApiKeyEntry[];
  clientCertificates: readonly ClientCertificateEntry[];
}

/** Who a request was let in as, for logs and audit records. */
export interface Principal {
  via: 'none' | 'signed-url' | 'capability' | 'bearer' | 'api-key' | 'client-certificate';
  subject: string;
  rights: ReadonlySet<Right>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** What a request wants, as its route declares it (route-config.ts): a request that matches no route is a read. */
export type Action = 'render' | 'read' | 'write' | 'sign';

/** The outcome of a check: who, or the error to answer (with the security event it is, for the audit trail). */
export type Decision = { ok: true; principal: Principal } | { ok: false; error: GatewayError };

const REALM = 'dicomweb-gateway';

function refuse(kind: ErrorFactory, reason: string, bearerError?: { error: string; scope?: string }): Decision {
  const error = kind(reason);
  if (error.statusCode !== 401 && !bearerError) return { ok: false, error };
  const challenge = `Bearer realm="${REALM}"${bearerError ? `, error="${bearerError.error}", error_description="${error.message.replace(/"/g, "'")}"${bearerError.scope ? `, scope="${bearerError.scope}"` : ''}` : ''}`;
  return { ok: false, error: withHeaders(error, { 'www-authenticate': challenge }) };
}

const bearerOf = (request: FastifyRequest): string | undefined => {
  const header = request.headers.authorization;
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m?.[1];
};

/** The right an action needs. */
const rightFor = (action: Action): Right => (action === 'sign' ? 'sign' : action === 'write' ? 'write' : 'read');

/** A machine's credential (API key, client certificate) with `rights`: let in as `subject`, or 403 naming what it lacks. */
function admitService(
  via: 'api-key' | 'client-certificate',
  subject: string,
  rights: Set<Right>,
  action: Action,
): Decision {
  const needed = rightFor(action);
  if (!rights.has(needed)) return refuse(Errors.forbidden, `${subject} does not grant ${needed}`);
  return { ok: true, principal: { via, subject, rights } };
}

/** What a request shows of itself to the policy. */
export interface Presented {
  method: string;
  url: string;
  headers: FastifyRequest['headers'];
  /** The client's TLS certificate, when the connection is TLS and one was presented. */
  peerCertificate?: PeerCertificate | undefined;
}

/** Decides one request (pure: no side effects), `now` in Unix seconds. */
export async function decide(policy: AuthPolicy, request: Presented, action: Action, now: number): Promise<Decision> {
  if (policy.mode === 'none')
    return { ok: true, principal: { via: 'none', subject: 'anonymous', rights: new Set(['read', 'write', 'sign']) } };
  const { path, query } = splitTarget(request.url);
  const params = new URLSearchParams(query);
  const bearer = bearerOf(request as FastifyRequest);
  const capability = params.get('capability') ?? (bearer?.startsWith(CAPABILITY_PREFIX) ? bearer : undefined);

  if (action === 'render' && params.has('signature')) {
    const check = verifySignedUrl(request.method, request.url, policy.signingKeys, now, policy.maxSignedTtlSeconds);
    if (!check.ok) return refuse(Errors.badSignature, check.reason ?? 'refused');
    return { ok: true, principal: { via: 'signed-url', subject: `key:${check.kid}`, rights: new Set(['read']) } };
  }
  if (capability && action !== 'sign' && action !== 'write') {
    const check = verifyCapability(
      capability,
      request.method,
      path,
      policy.signingKeys,
      now,
      policy.maxSignedTtlSeconds,
    );
    if (!check.ok) return refuse(Errors.badCapability, check.reason ?? 'refused');
    if (!tenantOwns(policy.scope, check.capability?.prefix ?? ''))
      return refuse(Errors.badCapability, 'it was issued for another tenant');
    return {
      ok: true,
      principal: { via: 'capability', subject: `capability:${check.capability?.prefix}`, rights: new Set(['read']) },
    };
  }
  if (bearer?.startsWith(API_KEY_PREFIX)) {
    const check = verifyApiKey(policy.apiKeys, bearer);
    if (!check.ok) return refuse(Errors.unauthorized, check.reason, { error: 'invalid_token' });
    return admitService('api-key', `apikey:${check.id}`, check.rights, action);
  }
  if (bearer && !bearer.startsWith(CAPABILITY_PREFIX)) {
    if (!policy.bearer)
      return refuse(Errors.unauthorized, 'bearer tokens are not accepted here (no issuer configured)', {
        error: 'invalid_token',
      });
    const check = await policy.bearer.verify(bearer);
    if (!check.ok)
      return refuse(Errors.unauthorized, `bearer token refused: ${check.reason}`, { error: 'invalid_token' });
    const needed = rightFor(action);
    if (!check.rights.has(needed))
      return refuse(Errors.forbidden, `the token lacks the scope ${policy.bearer.scopeFor(needed)} (${needed})`, {
        error: 'insufficient_scope',
        scope: policy.bearer.scopeFor(needed),
      });
    return { ok: true, principal: { via: 'bearer', subject: check.subject, rights: check.rights } };
  }
  const certificate = matchClientCertificate(policy.clientCertificates, request.peerCertificate);
  if (certificate)
    return admitService('client-certificate', `certificate:${certificate.id}`, new Set(certificate.scopes), action);
  if (action === 'render')
    return refuse(Errors.badSignature, 'the URL carries no signature (or send a capability or a bearer token)');
  if (params.has('signature'))
    return refuse(
      Errors.unauthorized,
      'signed URLs open rendered and thumbnail resources only; this resource needs a bearer token or a capability',
    );
  return refuse(
    Errors.unauthorized,
    action === 'sign' || action === 'write'
      ? `a bearer token with the ${action} scope is required`
      : 'a bearer token or a capability is required',
  );
}

/** The hook: decides, records who got in, and takes the credentials out of the query before routes read it. */
export function authHook(
  policy: AuthPolicy,
  onRefused?: (request: FastifyRequest, error: GatewayError) => void,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request) => {
    const presented: Presented = {
      method: request.method,
      url: request.url,
      headers: request.headers,
      ...(policy.clientCertificates.length ? { peerCertificate: peerCertificateOf(request.raw.socket) } : {}),
    };
    const decision = await decide(
      policy,
      presented,
      request.routeOptions.config.action ?? 'read',
      Math.floor(Date.now() / 1000),
    );
    if (!decision.ok) {
      onRefused?.(request, decision.error);
      throw decision.error;
    }
    request.principal = decision.principal;
    const query = request.query as Record<string, unknown> | undefined;
    if (query && typeof query === 'object') for (const name of AUTH_PARAMETERS) delete query[name];
  };
}
