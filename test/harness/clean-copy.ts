import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../devkit/processes.js';
import { tempDir } from '../../devkit/temp.js';

const repo = path.resolve(import.meta.dirname, '..', '..');

/**
 * The repository as a clone has it (tracked and new files, nothing ignored: no data/, no dist/), node_modules
 * linked, and built as `npm ci` builds it (its `prepare` step). Tests that build or pack work there, never in the
 * repository that other tests read at the same time.
 */
export async function cleanCopy(label: string): Promise<string> {
  const dir = path.join(tempDir(label), 'dicomweb-gateway');
  const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repo });
  for (const file of stdout.split('\0').filter((f) => f && existsSync(path.join(repo, f)))) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    copyFileSync(path.join(repo, file), path.join(dir, file));
  }
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  await run('npm', ['run', 'build'], { cwd: dir, env: process.env });
  return dir;
}
