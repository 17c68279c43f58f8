import { ignoredParameters } from './ignored-parameters.js';
import { Errors } from '../errors.js';
import { parseAccept, describeRanges, type MediaRange } from './accept.js';
import type { RenderedMedia, RenderRequest } from '../services/render-answer.js';
import type { Window, VoiFunction } from '../render/image-description.js';
import type { ImageMediaType, Viewport } from '../render/output.js';
import { negotiateLocale } from '../render/annotate.js';

/**
 * The query parameters of rendered and thumbnail resources (PS3.18 §8.3.5, Table 8.3.5-1), validated before
 * any DICOM work: each bad value is a 400 naming its parameter.
 */

export type RawQuery = Record<string, string | string[] | undefined>;

const IMAGE_TYPES: readonly ImageMediaType[] = ['image/jpeg', 'image/png', 'image/gif'];
/** Largest viewport side: the output is held in memory while it is encoded. */
export const MAX_VIEWPORT = 8192;

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[v.length - 1] : v);
const all = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const byPreference = (a: MediaRange, b: MediaRange): number => b.q - a.q || a.index - b.index;

function imageTypeOf(r: MediaRange): ImageMediaType | undefined {
  const type = `${r.type}/${r.subtype}`;
  if ((IMAGE_TYPES as readonly string[]).includes(type)) return type as ImageMediaType;
  if (type === 'image/*' || type === '*/*') return 'image/jpeg';
  return undefined;
}

/**
 * Which representations the request accepts (PS3.18 §8.7.4): the `accept` query parameter, when given,
 * replaces the Accept header (§8.3.3.1). JPEG is the default for wildcards and for a request with neither.
 */
export function renderedMedia(
  acceptParam: string | string[] | undefined,
  acceptHeader: string | undefined,
): RenderedMedia {
  const fromQuery = all(acceptParam).join(',');
  const ranges = parseAccept(fromQuery || acceptHeader)
    .filter((r) => r.q > 0)
    .sort(byPreference);
  const asked = describeRanges(ranges);
  if (ranges.length === 0) return { single: 'image/jpeg', multipart: 'image/jpeg', documents: () => true, asked };
  let single: ImageMediaType | undefined;
  let multipart: ImageMediaType | undefined;
  for (const r of ranges) {
    if (r.type === 'multipart' && (r.subtype === 'related' || r.subtype === '*')) {
      const inner = r.params.type;
      const t =
        inner === undefined
          ? 'image/jpeg'
          : (IMAGE_TYPES as readonly string[]).includes(inner)
            ? (inner as ImageMediaType)
            : inner === 'image/*'
              ? 'image/jpeg'
              : undefined;
      multipart ??= t;
    } else {
      single ??= imageTypeOf(r);
    }
  }
  const documents = (mediaType: string): boolean => {
    const [type = ''] = mediaType.split('/');
    return ranges.some(
      (r) =>
        r.type !== 'multipart' &&
        ((r.type === '*' && r.subtype === '*') ||
          (r.type === type && (r.subtype === '*' || `${r.type}/${r.subtype}` === mediaType))),
    );
  };
  return { ...(single ? { single } : {}), ...(multipart ? { multipart } : {}), documents, asked };
}

/** `window=center,width[,function]` (PS3.18 §8.3.5.1.4): linear, linear-exact or sigmoid (PS3.3 C.11.2.1.3). */
export function parseWindow(value: string | undefined): Window | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length < 2 || parts.length > 3)
    throw Errors.badParameter('window', `"${value}" is not center,width[,function]`);
  const center = Number(parts[0]);
  const width = Number(parts[1]);
  if (parts[0] === '' || !Number.isFinite(center))
    throw Errors.badParameter('window', `center "${parts[0]}" is not a number`);
  if (parts[1] === '' || !Number.isFinite(width) || width <= 0)
    throw Errors.badParameter('window', `width "${parts[1]}" is not a number greater than 0`);
  const keyword = (parts[2] ?? 'linear').toLowerCase();
  const fn: Record<string, VoiFunction> = { linear: 'LINEAR', 'linear-exact': 'LINEAR_EXACT', sigmoid: 'SIGMOID' };
  const resolved = fn[keyword];
  if (!resolved)
    throw Errors.badParameter('window', `unknown function "${parts[2]}" (linear, linear-exact or sigmoid)`);
  if (resolved === 'LINEAR' && width < 1)
    throw Errors.badParameter('window', 'a linear window needs a width of at least 1 (PS3.3 C.11.2.1.2.1)');
  return { center, width, fn: resolved };
}

/**
 * `viewport=vw,vh[,sx,sy,sw,sh]` (PS3.18 §8.3.5.1.3): output size, then the source region; empty region values
 * take their defaults (the whole image), negative widths or heights flip.
 */
export function parseViewport(value: string | undefined): Viewport | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length !== 2 && parts.length !== 6)
    throw Errors.badParameter('viewport', `"${value}" is not vw,vh or vw,vh,sx,sy,sw,sh`);
  const int = (text: string, name: string, check: (n: number) => boolean, rule: string): number | undefined => {
    if (text === '') return undefined;
    const n = Number(text);
    if (!/^-?\d+$/.test(text) || !check(n)) throw Errors.badParameter('viewport', `${name} "${text}" must be ${rule}`);
    return n;
  };
  const size = (text: string, name: string): number => {
    const n = int(text, name, (v) => v >= 1 && v <= MAX_VIEWPORT, `an integer from 1 to ${MAX_VIEWPORT}`);
    if (n === undefined) throw Errors.badParameter('viewport', `${name} is required`);
    return n;
  };
  const width = size(parts[0] as string, 'vw');
  const height = size(parts[1] as string, 'vh');
  if (parts.length === 2) return { width, height };
  const x = int(parts[2] as string, 'sx', (v) => v >= 0, 'an integer ≥ 0');
  const y = int(parts[3] as string, 'sy', (v) => v >= 0, 'an integer ≥ 0');
  const w = int(parts[4] as string, 'sw', (v) => v !== 0, 'a non-zero integer');
  const h = int(parts[5] as string, 'sh', (v) => v !== 0, 'a non-zero integer');
  const region = {
    ...(x !== undefined ? { x } : {}),
    ...(y !== undefined ? { y } : {}),
    ...(w !== undefined ? { width: w } : {}),
    ...(h !== undefined ? { height: h } : {}),
  };
  return Object.keys(region).length ? { width, height, region } : { width, height };
}

export function parseQuality(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 100)
    throw Errors.badParameter('quality', `"${value}" is not an integer from 1 to 100`);
  return n;
}

/** `annotation=patient,technique` (PS3.18 §8.3.5.1.1): unknown keywords are ignored and reported in a Warning. */
export function parseAnnotation(values: string[]): { patient: boolean; technique: boolean; unknown: string[] } {
  const keywords = values
    .flatMap((v) => v.split(','))
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = keywords.filter((k) => k !== 'patient' && k !== 'technique');
  return { patient: keywords.includes('patient'), technique: keywords.includes('technique'), unknown };
}

/** `iccprofile` (PS3.18 §8.3.5.1.5): no (default), yes or srgb embed sRGB; other profiles are not offered. */
export function parseIccProfile(value: string | undefined): boolean {
  if (value === undefined || value === 'no') return false;
  if (value === 'yes' || value === 'srgb') return true;
  throw Errors.badParameter('iccprofile', `"${value}" is not supported (no, yes, srgb)`);
}

export interface ParsedRenderRequest {
  request: RenderRequest;
  /** Warnings known before any work (unknown annotation keywords). */
  warnings: string[];
  /** Everything the answer depends on, for the rendered cache and the ETag. */
  key: string;
}

/** PS3.18 Table 8.3.5-1 as this gateway applies it: thumbnails take no window and no annotation. */
const RENDERED_PARAMETERS: ReadonlySet<string> = new Set([
  'accept',
  'quality',
  'viewport',
  'window',
  'annotation',
  'iccprofile',
]);
const THUMBNAIL_PARAMETERS: ReadonlySet<string> = new Set(['accept', 'quality', 'viewport', 'iccprofile']);

/** All parameters of a rendered (or thumbnail) request. */
export function parseRenderRequest(
  query: RawQuery,
  headers: { accept?: string | undefined; 'accept-language'?: string | undefined },
  defaults: { quality: number },
  kind: 'rendered' | 'thumbnail',
): ParsedRenderRequest {
  const media = renderedMedia(query.accept, headers.accept);
  const quality = parseQuality(first(query.quality), defaults.quality);
  const viewport = parseViewport(first(query.viewport));
  const window = kind === 'rendered' ? parseWindow(first(query.window)) : undefined;
  const annotation =
    kind === 'rendered' ? parseAnnotation(all(query.annotation)) : { patient: false, technique: false, unknown: [] };
  const srgbProfile = parseIccProfile(first(query.iccprofile));
  const locale = annotation.patient ? negotiateLocale(headers['accept-language']) : undefined;
  const ignored = ignoredParameters(query, kind === 'rendered' ? RENDERED_PARAMETERS : THUMBNAIL_PARAMETERS);
  const warnings = [
    ...(annotation.unknown.length
      ? [
          `annotation keyword(s) not supported and ignored: ${annotation.unknown.join(', ')} (supported: patient, technique)`,
        ]
      : []),
    ...(ignored ? [ignored] : []),
  ];
  const request: RenderRequest = {
    media,
    quality,
    srgbProfile,
    annotation: { patient: annotation.patient, technique: annotation.technique },
    ...(window ? { window } : {}),
    ...(viewport ? { viewport } : {}),
    ...(locale ? { locale } : {}),
  };
  const key = JSON.stringify([
    kind,
    media.single ?? '',
    media.multipart ?? '',
    quality,
    viewport ?? '',
    window ?? '',
    annotation.patient,
    annotation.technique,
    locale ?? '',
    srgbProfile,
  ]);
  return { request, warnings, key };
}
