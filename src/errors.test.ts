import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES, Errors } from './errors.js';

/** Each code of docs/conformance.md §4.7 (the status mapping table) with the statuses its rows give it. */
function documentedCodes(): Map<string, string[]> {
  const doc = readFileSync('docs/conformance.md', 'utf8');
  const section = doc.slice(doc.indexOf('### 4.7 '), doc.indexOf('\n## 5. '));
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n').filter((l) => l.startsWith('|'))) {
    const status = line.split('|')[2] ?? '';
    for (const code of line.match(/DWG_[A-Z_]+/g) ?? []) rows.set(code, [...(rows.get(code) ?? []), status]);
  }
  return rows;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(path.join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
        ? [path.join(dir, e.name)]
        : [],
  );
}

describe('error registry', () => {
  it('documents every code in docs/conformance.md §4.7, with its HTTP status', () => {
    const rows = documentedCodes();
    for (const factory of Object.values(Errors)) {
      const statuses = rows.get(factory.code);
      expect(statuses, `${factory.code} is missing from the status table`).toBeDefined();
      expect(
        statuses?.some((column) => column.includes(String(factory.statusCode))),
        `${factory.code} is documented with ${statuses?.join(', ')}, not ${factory.statusCode}`,
      ).toBe(true);
    }
  });

  it('documents no code the gateway does not have', () => {
    for (const code of documentedCodes().keys()) expect(ERROR_CODES, code).toContain(code);
  });

  it('is the only place codes are minted', () => {
    for (const file of sourceFiles('src').filter((f) => f !== path.join('src', 'errors.ts'))) {
      expect(readFileSync(file, 'utf8').match(/['"`]DWG_[A-Z_]+['"`]/g), file).toBeNull();
    }
  });
});
