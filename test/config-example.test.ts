/** gateway.example.yaml, the operator's reference: it parses, shows the defaults, and names every key; and --version. */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadConfig, configLeaves } from '../src/config/load.js';
import { run } from '../devkit/processes.js';

const FILE = new URL('../gateway.example.yaml', import.meta.url);

const flatten = (o: unknown, prefix = ''): [string, string][] =>
  o && typeof o === 'object' && !Array.isArray(o)
    ? Object.entries(o).flatMap(([k, v]) => flatten(v, `${prefix}${k}.`))
    : [[prefix.slice(0, -1), JSON.stringify(o)]];

describe('gateway.example.yaml', () => {
  it('is a valid configuration whose every value is the default', () => {
    const example = new Map(flatten(loadConfig({ file: FILE.pathname, env: {} })));
    const defaults = flatten(loadConfig({ env: {} }));
    expect(defaults.length).toBeGreaterThan(40);
    for (const [key, value] of defaults) expect(example.get(key), key).toBe(value);
  });

  it('names every configuration key, set or commented out with an example', () => {
    // The commented-out keys ("# key: …") made live, explanations ("## …") dropped.
    const text = readFileSync(FILE, 'utf8')
      .split('\n')
      .filter((line) => !/^\s*##/.test(line))
      .map((line) =>
        line
          .replace(/^(\s*)# (?=\s*[\w-]+:)/, '$1')
          .replace(/\s+##.*$/, '')
          .replace(/^(\s*[\w-]+:)\s*\{\}\s*$/, '$1'),
      )
      .join('\n');
    const documented = parse(text) as Record<string, unknown>;
    const has = (path: string[]): boolean => {
      let node: unknown = documented;
      for (const key of path) {
        if (!node || typeof node !== 'object' || !(key in node)) return false;
        node = (node as Record<string, unknown>)[key];
      }
      return true;
    };
    const leaves = configLeaves();
    expect(leaves.length).toBeGreaterThan(80);
    for (const leaf of leaves) expect(has(leaf.path), leaf.path.join('.')).toBe(true);
    expect(has(['tenants'])).toBe(true);
  });
});

describe('dicomweb-gateway --version', () => {
  it('prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--version']);
    expect(stdout.trim()).toBe(`dicomweb-gateway ${version}`);
  });
});
