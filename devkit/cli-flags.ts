import { readFileSync } from 'node:fs';

/**
 * The Node.js flags the gateway's command runs with: those of its shebang (`#!/usr/bin/env -S node FLAGS`), so
 * that benchmarks and `npm start` run it as the installed `dicomweb-gateway` command does.
 */
export function cliNodeFlags(file = 'src/cli.ts'): string[] {
  const shebang = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\/usr\/bin\/env (?:-S )?node(.*)$/.exec(shebang);
  if (!match) throw new Error(`${file}: no node shebang`);
  return (match[1] ?? '').trim().split(/\s+/).filter(Boolean);
}
