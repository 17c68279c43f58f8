/**
 * The paths a tenant answers for: its base, minus (for the default tenant) the other tenants' subtree. A
 * capability or a minted URL outside them is refused, even if the same key had signed it.
 */
export interface TenantScope {
  base: string;
  /** A subtree under `base` that belongs to other tenants. */
  excluded?: string;
}

const under = (p: string, prefix: string): boolean =>
  p === prefix || p.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`) || p.startsWith(`${prefix}?`);

/** Whether a path (or path prefix) lies within a tenant's scope. */
export function tenantOwns(scope: TenantScope, p: string): boolean {
  const inBase = scope.base === '' ? p.startsWith('/') : under(p, scope.base);
  return inBase && !(scope.excluded !== undefined && under(p, scope.excluded));
}
