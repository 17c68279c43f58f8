import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { ANNOTATION_FONT, BUNDLED_FONT_FILES } from './fonts.js';
import { PATIENTS } from '../samples/catalog.js';
import { tempDir } from '../../devkit/temp.js';

/** Code points a font covers, from fontconfig's own reading of the file (fc-query, Debian fontconfig). */
function coverage(file: string): (cp: number) => boolean {
  const ranges = execFileSync('fc-query', ['-f', '%{charset}', file])
    .toString()
    .trim()
    .split(/\s+/)
    .map((r) => r.split('-').map((h) => parseInt(h, 16)))
    .map(([lo = 0, hi]) => [lo, hi ?? lo] as const);
  return (cp) => ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
}

const SAMPLE = `${PATIENTS.map((p) => p.name).join(' ')} Παπαδόπουλος Иванов 张伟 홍길동`;

/** Renders SAMPLE in ANNOTATION_FONT in a new process whose fontconfig knows no font at all. */
function renderWithNoSystemFonts(register: boolean): string {
  const dir = tempDir('fonts');
  const conf = path.join(dir, 'fonts.conf');
  writeFileSync(conf, `<?xml version="1.0"?>\n<fontconfig><cachedir>${dir}/cache</cachedir></fontconfig>\n`);
  const fonts = fileURLToPath(new URL('./fonts.ts', import.meta.url));
  const sharpUrl = pathToFileURL(createRequire(import.meta.url).resolve('sharp')).href;
  const script = `import sharp from ${JSON.stringify(sharpUrl)}; import { ANNOTATION_FONT, bundledFonts } from ${JSON.stringify(fonts)};
    ${register ? 'await bundledFonts();' : ''}
    const raw = await sharp({ text: { text: ${JSON.stringify(SAMPLE)}, font: ANNOTATION_FONT + ' 20px', dpi: 72 } }).raw().toBuffer();
    process.stdout.write(raw.toString('base64'));`;
  const file = path.join(dir, 'render.mts');
  writeFileSync(file, script);
  const out = execFileSync(process.execPath, ['--import', 'tsx', file], {
    env: { ...process.env, FONTCONFIG_FILE: conf },
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  return createHash('sha256').update(Buffer.from(out.toString(), 'base64')).digest('hex');
}

describe('bundled fonts', () => {
  it("cover every character of the fixtures' names (Latin, Greek, Cyrillic, Japanese, Korean, Chinese), by fontconfig's reading of the files", () => {
    const covers = BUNDLED_FONT_FILES.map(coverage);
    const missing = [...new Set(SAMPLE)].filter(
      (c) => !/[\s^=]/.test(c) && !covers.some((has) => has(c.codePointAt(0) ?? 0)),
    );
    expect(missing).toEqual([]);
    expect(ANNOTATION_FONT).toBe('DejaVu Sans, Droid Sans Fallback, NanumGothic');
  });

  it('set the text on a machine with no fonts installed: the same pixels every time; without them, boxes', () => {
    // (The system's fontconfig rules, hinting for one, make this machine's pixels differ slightly: not compared.)
    const bundled = renderWithNoSystemFonts(true);
    expect(renderWithNoSystemFonts(true)).toBe(bundled);
    expect(renderWithNoSystemFonts(false)).not.toBe(bundled);
  });
});
