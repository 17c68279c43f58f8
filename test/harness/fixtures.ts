import { mkdtempSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateFixtures } from '../../fixtures/generate.js';

let cached: { dir: string; files: string[] } | undefined;

/** The fixture files, generated once per test process into a temporary directory. */
export function fixtureFiles(): { dir: string; files: string[] } {
  if (cached && existsSync(cached.dir)) return cached;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dwg-fixtures-'));
  cached = { dir, files: generateFixtures(dir) };
  return cached;
}
