import path from 'node:path';
import { BACKEND_KINDS, type BackendKind } from '../backends/kinds.js';

/** The parts of a tenant's configuration that must not be shared with another tenant. */
interface TenantParts {
  dimse: { host: string; port: number; listen: boolean };
  cache: { dir: string };
  backend: BackendKind;
  archive: { dir: string };
  members: Parameters<(typeof BACKEND_KINDS)['federated']['keepsArchive']>[0]['members'];
  pacs?: { retrieve: 'move' | 'get' | 'auto' };
  auth: {
    signingKeys: readonly { kid: string; secret: string }[];
    oauth?: { issuer: string; audience: string } | undefined;
  };
}

export interface Conflict {
  path: (string | number)[];
  message: string;
}

/** A tenant's name, as it appears in its URLs ({basePath}/tenants/{id}) and audit records. */
const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const within = (inner: string, outer: string): boolean => inner === outer || inner.startsWith(`${outer}${path.sep}`);

/**
 * What would let one tenant see or speak for another: a shared Storage SCP port, cache directories that are the
 * same or nested, a signing secret used twice, or two tenants that accept the same issuer and audience (a token
 * for one would open the other). Tenant A's credentials must never open tenant B (docs/security.md §Tenants).
 */
export function tenantConflicts(config: TenantParts & { tenants: Record<string, TenantParts> }): Conflict[] {
  const all: [string, (string | number)[], TenantParts][] = [
    ['default', [], config],
    ...Object.entries(config.tenants).map(([id, t]): [string, (string | number)[], TenantParts] => [
      id,
      ['tenants', id],
      t,
    ]),
  ];
  const problems: Conflict[] = [];
  const ports = new Map<number, string>();
  const dirs: [string, string][] = [];
  const secrets = new Map<string, string>();
  const audiences = new Map<string, string>();
  for (const id of Object.keys(config.tenants)) {
    if (id === 'default')
      problems.push({
        path: ['tenants', id],
        message: '"default" names the top-level tenant (pacs, dimse, auth, cache)',
      });
    else if (!TENANT_ID.test(id))
      problems.push({
        path: ['tenants', id],
        message: 'tenant ids are 1–63 lower-case letters, digits, _ and -, starting with a letter or digit',
      });
  }
  for (const [id, at, t] of all) {
    if (t.dimse.listen && t.dimse.port !== 0) {
      const other = ports.get(t.dimse.port);
      if (other)
        problems.push({
          path: [...at, 'dimse', 'port'],
          message: `Storage SCP port ${t.dimse.port} is already tenant "${other}"'s`,
        });
      else ports.set(t.dimse.port, id);
    }
    const dir = path.resolve(t.cache.dir);
    const clash = dirs.find(([, d]) => within(dir, d) || within(d, dir));
    if (clash)
      problems.push({
        path: [...at, 'cache', 'dir'],
        message: `cache directory ${t.cache.dir} overlaps tenant "${clash[0]}"'s`,
      });
    dirs.push([id, dir]);
    if (BACKEND_KINDS[t.backend].keepsArchive(t)) {
      const archiveDir = path.resolve(t.archive.dir);
      const overlap = dirs.find(([, d]) => within(archiveDir, d) || within(d, archiveDir));
      if (overlap)
        problems.push({
          path: [...at, 'archive', 'dir'],
          message: `archive directory ${t.archive.dir} overlaps tenant "${overlap[0]}"'s ${overlap[0] === id ? 'cache' : 'cache or archive'} directory`,
        });
      dirs.push([id, archiveDir]);
    }
    for (const [k, key] of t.auth.signingKeys.entries()) {
      const canonical = Buffer.from(key.secret, 'base64').toString('base64');
      const other = secrets.get(canonical);
      if (other && other !== id)
        problems.push({
          path: [...at, 'auth', 'signingKeys', k, 'secret'],
          message: `this signing secret is also tenant "${other}"'s: each tenant needs its own`,
        });
      secrets.set(canonical, id);
    }
    if (t.auth.oauth) {
      const pair = `${t.auth.oauth.issuer}\n${t.auth.oauth.audience}`;
      const other = audiences.get(pair);
      if (other)
        problems.push({
          path: [...at, 'auth', 'oauth', 'audience'],
          message: `tenant "${other}" accepts tokens from the same issuer for the same audience: give each tenant its own audience`,
        });
      else audiences.set(pair, id);
    }
  }
  return problems;
}
