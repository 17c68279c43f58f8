/**
 * The documents hold to the code (issue 14): docs/conformance.md Table 4-1 and openapi.yaml list exactly the
 * routes the DICOMweb listener registers, Table 4-2 exactly the metrics listener's paths, and every test file the
 * statement names as backing a claim exists.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { RouteOptions } from 'fastify';
import { FakeArchive, appOver } from './harness/fake-archive.js';
import { METRICS_LISTENER_PATHS } from '../src/metrics/metrics-server.js';
import { sopClassLines } from '../src/commands/sop-classes-command.js';

const statement = readFileSync(new URL('../docs/conformance.md', import.meta.url), 'utf8');

/** `METHOD path` of each row of the table that follows `caption` in the statement. */
function tableRoutes(caption: string): string[] {
  const start = statement.indexOf(caption);
  if (start < 0) throw new Error(`no ${caption} in docs/conformance.md`);
  const lines = statement.slice(start).split('\n');
  const table = lines
    .slice(lines.findIndex((l) => l.startsWith('|')))
    .filter((_, i, all) => all.slice(0, i + 1).every((l) => l.startsWith('|')));
  return table.slice(2).map((row) => {
    const [method, path] = row
      .split('|')
      .slice(1, 3)
      .map((c) => c.trim().replace(/`/g, ''));
    return `${method ?? ''} ${path ?? ''}`;
  });
}

/** `METHOD path` of every GET and POST route the DICOMweb listener registers (HEAD and 405 refusals aside). */
async function registeredRoutes(): Promise<string[]> {
  const routes: RouteOptions[] = [];
  const { app, close } = appOver(new FakeArchive(), { onRoute: (r) => routes.push(r) });
  await app.ready();
  await close();
  const openApiPath = (url: string): string =>
    url.replace('/bulkdata/*', '/bulkdata/{path}').replace(/:(\w+)/g, '{$1}');
  return routes
    .filter((r) => !(r.config as { refusesMethod?: boolean } | undefined)?.refusesMethod)
    .flatMap((r) =>
      [r.method]
        .flat()
        .filter((m) => m === 'GET' || m === 'POST')
        .map((m) => `${m} ${openApiPath(r.url)}`),
    );
}

function openApiRoutes(): string[] {
  const spec = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

const sorted = (xs: string[]): string[] => [...new Set(xs)].sort();

describe('the conformance statement and openapi.yaml', () => {
  it('list exactly the routes of the DICOMweb listener', async () => {
    const registered = sorted(await registeredRoutes());
    expect(registered.length).toBeGreaterThan(30);
    expect(sorted(tableRoutes('**Table 4-1.'))).toEqual(registered);
    expect(sorted(openApiRoutes())).toEqual(registered);
  });

  it('list exactly the paths of the metrics listener (Table 4-2)', () => {
    expect(sorted(tableRoutes('**Table 4-2.'))).toEqual(sorted(METRICS_LISTENER_PATHS.map((p) => `GET ${p}`)));
  });

  it('list exactly the storage SOP classes taken (§8.3), as `sop-classes` prints them', () => {
    const table = /<!-- sop-classes -->\n([\s\S]*?)<!-- \/sop-classes -->/.exec(statement)?.[1] ?? '';
    const rows = table
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((row) =>
        row
          .split('|')
          .slice(1, 3)
          .map((c) => c.trim().replace(/`/g, ''))
          .join('\t')
          .trimEnd(),
      );
    expect(rows).toEqual(sopClassLines());
  });

  it('cite nothing outside the repository', () => {
    expect(statement).not.toMatch(/\.\.\/shared|sources\.md|dependencies\.md|peers\.md/);
  });

  it('name only test files that exist', () => {
    const named = sorted(statement.match(/(?:test|src)\/[\w./-]+\.test\.ts/g) ?? []);
    expect(named.length).toBeGreaterThan(20);
    for (const file of named) expect(existsSync(new URL(`../${file}`, import.meta.url)), file).toBe(true);
  });
});
