import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

/**
 * A new directory under the system temp directory, named `dwg-{prefix}-…`, removed when the test file ends
 * (test/setup.ts) — or by `cleanupTempDirs()` in a script that runs outside vitest.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `dwg-${prefix}-`));
  made.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made in this process. */
export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
