/** openapi.yaml describes exactly the routes the server registers. */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import type { PacsBackend } from '../src/services/backend.js';
import { RetrieveService } from '../src/services/retrieve-service.js';
import { InstanceStore } from '../src/cache/instance-store.js';
import { InstanceCache } from '../src/cache/instance-cache.js';
import { CodecPool } from '../src/codecs/codec-pool.js';
import { RenderService } from '../src/services/render-service.js';
import { StudyCatalog } from '../src/services/study-catalog.js';
import { Audit } from '../src/audit/audit.js';
import { tenantSettings } from '../src/tenant.js';
import { tempDir } from '../devkit/temp.js';

describe('openapi.yaml', () => {
  it('lists every GET route of the server and no route it does not have', async () => {
    const spec = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
    const backend: PacsBackend = { find: () => Promise.reject(new Error('unused')), deliversToStorageScp: true, listsBeforeRetrieving: false, retrieve: () => Promise.reject(new Error('unused')), echo: () => Promise.reject(new Error('unused')), close: async () => {} };
    const store = new InstanceStore(tempDir('openapi'));
    const retrieve = new RetrieveService(backend, new InstanceCache(store, 1 << 20), store, { idleTimeoutMs: 1000, storageScp: { aeTitle: 'X', host: '127.0.0.1', port: 1 } });
    const codecs = new CodecPool({ threads: 1, maxQueue: 1 });
    const render = new RenderService(retrieve, new StudyCatalog(backend), codecs, { renderedCacheBytes: 1 << 20, frameCacheBytes: 1 << 20, thumbnail: { size: 128, choice: 'middle' } });
    const config = loadConfig({ env: {} });
    const [settings] = tenantSettings(config);
    if (!settings) throw new Error('no default tenant');
    const tenant = { settings, backend, retrieve, render, auth: { mode: 'none' as const, scope: { base: settings.basePath }, signingKeys: new Map(), maxSignedTtlSeconds: 1 } };
    const app = buildApp({ config, tenants: [tenant], codecs, audit: new Audit([]), logger: false });
    const routes: string[] = [];
    app.addHook('onRoute', (r) => { if (r.method === 'GET' || (Array.isArray(r.method) && r.method.includes('GET'))) routes.push(r.url.replace(/:(\w+)/g, '{$1}')); });
    await app.ready();
    // Routes registered inside plugins (all of basePath) pass the hook; health routes are checked with hasRoute.
    const documented = Object.keys(spec.paths);
    for (const r of routes) expect(documented).toContain(r.replace('/bulkdata/*', '/bulkdata/{path}'));
    expect(routes.length).toBeGreaterThanOrEqual(6);
    for (const p of documented) {
      const methods = Object.keys(spec.paths[p] ?? {}).filter((m) => ['get', 'post', 'put', 'delete'].includes(m));
      expect(methods.length, p).toBeGreaterThan(0);
      for (const method of methods) {
        expect(app.hasRoute({ method: method.toUpperCase() as 'GET', url: p.replace('/bulkdata/{path}', '/bulkdata/*').replace(/\{(\w+)\}/g, ':$1') }), `${method} ${p}`).toBe(true);
      }
    }
    await app.close();
  });
});
