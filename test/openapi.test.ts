/** openapi.yaml describes exactly the routes the server registers. */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { FakeArchive, appOver } from './harness/fake-archive.js';

describe('openapi.yaml', () => {
  it('lists every GET route of the server and no route it does not have', async () => {
    const spec = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
    const { app, close } = appOver(new FakeArchive());
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
    await close();
  });
});
