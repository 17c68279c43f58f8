import sharp from 'sharp';
import type { OverlayOptions } from 'sharp';
import type { Dataset } from '../dicom/dataset.js';
import { decodeText } from '../dicom/charset.js';
import { tag, Tags, type Tag } from '../dicom/tag.js';
import type { VR } from '../dicom/vr.js';
import type { Window } from './image-description.js';
import { ANNOTATION_FONT, bundledFonts } from './fonts.js';

/** What to burn in (PS3.18 §8.3.5.1.1 annotation=patient,technique). */
export interface AnnotationRequest {
  patient: boolean;
  technique: boolean;
}

export interface AnnotationContext {
  dataset: Dataset;
  frame: number;
  frames: number;
  window?: Window;
  /** BCP 47 locale for dates (from Accept-Language); none: ISO 8601 dates. */
  locale?: string;
}

const text = (ds: Dataset, t: Tag, vr: VR): string => {
  const el = ds.get(t);
  return el && 'bytes' in el
    ? decodeText(el.bytes, ds.specificCharacterSet, vr)
        .replace(/[\0 ]+$/, '')
        .trim()
    : '';
};

/** A person name for reading: "Family, Given Middle" per component group, groups separated by " = ". */
export function readableName(pn: string): string {
  return pn
    .split('=')
    .map((group) => {
      const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group.split('^');
      const rest = [prefix, given, middle].filter(Boolean).join(' ');
      return [family, rest].filter(Boolean).join(', ') + (suffix ? ` ${suffix}` : '');
    })
    .filter(Boolean)
    .join(' = ');
}

/** A DA value formatted for a locale (UTC, so the date never shifts), or ISO 8601 without one. */
export function formatDate(da: string, locale: string | undefined): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  if (!m) return da;
  const [, y, mo, d] = m as unknown as [string, string, string, string];
  if (!locale) return `${y}-${mo}-${d}`;
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(
    new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))),
  );
}

/** The first language of an Accept-Language header that this runtime can format dates in. */
export function negotiateLocale(acceptLanguage: string | undefined): string | undefined {
  if (!acceptLanguage) return undefined;
  const tags = acceptLanguage
    .split(',')
    .map((part, index) => {
      const [lang = '', ...params] = part.trim().split(';');
      const q = Number(
        params
          .find((p) => p.trim().startsWith('q='))
          ?.trim()
          .slice(2) ?? 1,
      );
      return { lang: lang.trim(), q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((t) => t.lang && t.lang !== '*' && t.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const t of tags) {
    try {
      if (Intl.DateTimeFormat.supportedLocalesOf([t.lang]).length) return t.lang;
    } catch {
      // an invalid language tag: try the next
    }
  }
  return undefined;
}

/** The lines to burn in: patient data top left, technique bottom left. */
export function annotationLines(
  ctx: AnnotationContext,
  request: AnnotationRequest,
): { top: string[]; bottom: string[] } {
  const ds = ctx.dataset;
  const top: string[] = [];
  const bottom: string[] = [];
  if (request.patient) {
    const name = readableName(text(ds, Tags.PatientName, 'PN'));
    if (name) top.push(name);
    const id = text(ds, Tags.PatientID, 'LO');
    if (id) top.push(`ID: ${id}`);
    const birth = text(ds, tag(0x0010, 0x0030), 'DA');
    const sex = text(ds, tag(0x0010, 0x0040), 'CS');
    const born = [birth ? formatDate(birth, ctx.locale) : '', sex].filter(Boolean).join('  ');
    if (born) top.push(born);
  }
  if (request.technique) {
    const modality = text(ds, tag(0x0008, 0x0060), 'CS');
    const series = text(ds, tag(0x0020, 0x0011), 'IS');
    const instance = text(ds, tag(0x0020, 0x0013), 'IS');
    bottom.push([modality, series ? `Se ${series}` : '', instance ? `Im ${instance}` : ''].filter(Boolean).join('  '));
    if (ctx.frames > 1) bottom.push(`Frame ${ctx.frame}/${ctx.frames}`);
    const location = text(ds, tag(0x0020, 0x1041), 'DS');
    if (location) bottom.push(`Loc ${location} mm`);
    if (ctx.window)
      bottom.push(
        `W ${round(ctx.window.width)}  C ${round(ctx.window.center)}${ctx.window.fn === 'LINEAR' ? '' : `  ${ctx.window.fn.toLowerCase()}`}`,
      );
  }
  return { top: top.filter(Boolean), bottom: bottom.filter(Boolean) };
}

const round = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1));

const escapeMarkup = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Lines of text in one colour, as an RGBA image. */
async function textImage(
  lines: string[],
  fontPx: number,
  colour: string,
): Promise<{ data: Buffer; width: number; height: number }> {
  const markup = `<span foreground="${colour}">${escapeMarkup(lines.join('\n'))}</span>`;
  await bundledFonts();
  const { data, info } = await sharp({
    text: { text: markup, font: `${ANNOTATION_FONT} ${fontPx}px`, rgba: true, dpi: 72 },
  })
    .png()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** White text with a one-pixel black outline, legible on bright and dark anatomy alike. */
async function textBlock(lines: string[], fontPx: number): Promise<{ input: Buffer; width: number; height: number }> {
  const [white, black] = await Promise.all([textImage(lines, fontPx, 'white'), textImage(lines, fontPx, 'black')]);
  const width = white.width + 2;
  const height = white.height + 2;
  const input = await sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .composite([
      ...[
        [0, 0],
        [2, 0],
        [0, 2],
        [2, 2],
      ].map(([left, top]) => ({ input: black.data, left: left as number, top: top as number })),
      { input: white.data, left: 1, top: 1 },
    ])
    .png()
    .toBuffer();
  return { input, width, height };
}

/** Overlays for an image of the given size: the text blocks, scaled to the image, clipped inside it. */
export async function annotationOverlays(
  lines: { top: string[]; bottom: string[] },
  size: { width: number; height: number },
): Promise<OverlayOptions[]> {
  const fontPx = Math.max(9, Math.min(28, Math.round(size.height / 32)));
  const margin = Math.max(2, Math.round(fontPx / 3));
  const overlays: OverlayOptions[] = [];
  const place = async (blockLines: string[], atBottom: boolean): Promise<void> => {
    if (!blockLines.length) return;
    let block = await textBlock(blockLines, fontPx);
    const maxW = size.width - margin;
    const maxH = Math.floor(size.height / 2) - margin;
    if (maxW < 4 || maxH < 4) return;
    if (block.width > maxW || block.height > maxH) {
      const input = await sharp(block.input)
        .extract({ left: 0, top: 0, width: Math.min(block.width, maxW), height: Math.min(block.height, maxH) })
        .png()
        .toBuffer();
      block = { input, width: Math.min(block.width, maxW), height: Math.min(block.height, maxH) };
    }
    overlays.push({ input: block.input, left: margin, top: atBottom ? size.height - block.height - margin : margin });
  };
  await place(lines.top, false);
  await place(lines.bottom, true);
  return overlays;
}
