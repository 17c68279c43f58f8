import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Right } from './bearer.js';

/**
 * API keys: service credentials for a machine (a modality's uploader, an integration engine) at a site without
 * an OAuth issuer. A key is `dwgk.<id>.<secret>`, sent as a bearer token (RFC 6750 §2.1); the gateway keeps
 * only its SHA-256, so a configuration file or a backup that leaks gives nobody a key. The id names the key in
 * audit records and logs; the secret never appears anywhere but in the one output that created it.
 */
export const API_KEY_PREFIX = 'dwgk.';

/** An API key as configured: its id, the hex SHA-256 of the whole key, and the rights it grants. */
export interface ApiKeyEntry {
  id: string;
  sha256: string;
  scopes: readonly Right[];
  /** Kept in the configuration after revocation, so that its use is refused by name (and audited as such). */
  revoked?: boolean | undefined;
}

export type ApiKeyCheck = { ok: true; id: string; rights: Set<Right> } | { ok: false; reason: string };

/** The hex SHA-256 of a key, as `auth.apiKeys[].sha256` holds it. */
export const apiKeyHash = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** A new key for `id` (256 random bits), and what the configuration keeps of it. */
export function createApiKey(id: string): { key: string; sha256: string } {
  const key = `${API_KEY_PREFIX}${id}.${randomBytes(32).toString('base64url')}`;
  return { key, sha256: apiKeyHash(key) };
}

/** Checks a presented key against the configured ones, in constant time for the hash comparison. */
export function verifyApiKey(keys: readonly ApiKeyEntry[], presented: string): ApiKeyCheck {
  const rest = presented.slice(API_KEY_PREFIX.length);
  const dot = rest.lastIndexOf('.');
  const id = dot > 0 ? rest.slice(0, dot) : '';
  const entry = keys.find((k) => k.id === id);
  if (!entry) return { ok: false, reason: 'the API key is not known here' };
  const expected = Buffer.from(entry.sha256, 'hex');
  const actual = Buffer.from(apiKeyHash(presented), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual))
    return { ok: false, reason: `API key ${id} does not match` };
  if (entry.revoked) return { ok: false, reason: `API key ${id} has been revoked` };
  return { ok: true, id, rights: new Set(entry.scopes) };
}
