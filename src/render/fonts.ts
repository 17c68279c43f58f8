import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

/**
 * The fonts annotations and icon labels are set in, shipped with the gateway (nothing from the system, nothing
 * downloaded): DejaVu Sans (npm `dejavu-fonts-ttf`) for Latin, Greek and Cyrillic; Droid Sans Fallback
 * (`fonts/`, Apache-2.0) for Chinese and Japanese; NanumGothic (npm `@kfonts/nanum-gothic`, OFL) for Korean.
 * Pango takes each character from the first family that has it.
 */
export const ANNOTATION_FONT = 'DejaVu Sans, Droid Sans Fallback, NanumGothic';

const requireHere = createRequire(import.meta.url);
const packageDir = (name: string): string => path.dirname(requireHere.resolve(`${name}/package.json`));
// src/render/ and dist/render/ are both two levels below the package root.
const shippedFonts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fonts');

/** The font files, absolute. */
export const BUNDLED_FONT_FILES: readonly string[] = [
  path.join(packageDir('dejavu-fonts-ttf'), 'ttf', 'DejaVuSans.ttf'),
  path.join(packageDir('dejavu-fonts-ttf'), 'ttf', 'DejaVuSans-Bold.ttf'),
  path.join(shippedFonts, 'DroidSansFallbackFull.ttf'),
  path.join(packageDir('@kfonts/nanum-gothic'), 'src', 'NanumGothic.ttf'),
  path.join(packageDir('@kfonts/nanum-gothic'), 'src', 'NanumGothicBold.ttf'),
];

let registered: Promise<void> | undefined;

/**
 * Adds the bundled fonts to libvips' fontconfig, once per process, before the first text is set: a text operation
 * given a `fontfile` registers it as an application font (and clears Pango's font cache), beside whatever the
 * system has, so the families above resolve on a machine with no fonts installed.
 */
export function bundledFonts(): Promise<void> {
  registered ??= (async () => {
    for (const fontfile of BUNDLED_FONT_FILES)
      await sharp({ text: { text: '.', fontfile, dpi: 72 } })
        .png()
        .toBuffer();
  })();
  return registered;
}
