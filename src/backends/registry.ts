import type { TenantSettings } from '../tenant-settings.js';
import type { BackendModule } from './backend.js';
import type { BackendKind } from './kinds.js';
import { dimseBackend } from './dimse/backend.js';
import { embeddedBackend } from './embedded/backend.js';
import { federatedBackend } from './federated/backend.js';

/**
 * Every kind of back end, by the name the configuration resolves a tenant to (`backend`). The only place that
 * knows which kinds exist: the composition root (tenant.ts, gateway.ts) and the commands ask it for a tenant's
 * module and use what that module offers.
 */
export const BACKENDS: Readonly<Record<BackendKind, BackendModule>> = {
  dimse: dimseBackend,
  embedded: embeddedBackend,
  federated: federatedBackend({ dimse: dimseBackend, embedded: embeddedBackend }),
};

/** The module of a tenant's back end. */
export const backendOf = (t: Pick<TenantSettings, 'backend'>): BackendModule => BACKENDS[t.backend];
