import { existsSync } from 'node:fs';
import { generateFixtures } from '../src/samples/patients.js';
import { tempDir } from './temp.js';

let cached: { dir: string; files: string[] } | undefined;

/** The fixture files, generated once per test process into a temporary directory. */
export function fixtureFiles(): { dir: string; files: string[] } {
  if (cached && existsSync(cached.dir)) return cached;
  const dir = tempDir('fixtures');
  cached = { dir, files: generateFixtures(dir) };
  return cached;
}
