import sharp from 'sharp';
import type { Dataset } from '../dicom/dataset.js';
import { decodeText } from '../dicom/charset.js';
import { tag, type Tag } from '../dicom/tag.js';
import type { VR } from '../dicom/vr.js';
import type { SopKind } from './sop-kind.js';
import type { ImageMediaType } from './output.js';
import { ANNOTATION_FONT, bundledFonts } from './fonts.js';

/**
 * Renderings of instances that are not images (PS3.18 §8.3.5, §10.4.1.1.3): an SR's content tree as HTML or
 * plain text, and icons for thumbnails of documents, reports and videos.
 */

const T = {
  valueType: tag(0x0040, 0xa040),
  conceptName: tag(0x0040, 0xa043),
  contentSequence: tag(0x0040, 0xa730),
  textValue: tag(0x0040, 0xa160),
  conceptCode: tag(0x0040, 0xa168),
  measuredValue: tag(0x0040, 0xa300),
  numericValue: tag(0x0040, 0xa30a),
  units: tag(0x0040, 0x08ea),
  personName: tag(0x0040, 0xa123),
  date: tag(0x0040, 0xa121),
  time: tag(0x0040, 0xa122),
  dateTime: tag(0x0040, 0xa120),
  uid: tag(0x0040, 0xa124),
  referencedSop: tag(0x0008, 0x1199),
  referencedSopInstance: tag(0x0008, 0x1155),
  codeMeaning: tag(0x0008, 0x0104),
  completion: tag(0x0040, 0xa491),
  verification: tag(0x0040, 0xa493),
  patientName: tag(0x0010, 0x0010),
  patientId: tag(0x0010, 0x0020),
} as const;

interface Node {
  heading: string;
  type: string;
  value: string;
  children: Node[];
}

const str = (ds: Dataset, t: Tag, vr: VR, charset: string | undefined): string => {
  const el = ds.get(t);
  return el && 'bytes' in el
    ? decodeText(el.bytes, charset, vr)
        .replace(/[\0 ]+$/, '')
        .trim()
    : '';
};
const items = (ds: Dataset, t: Tag): Dataset[] => {
  const el = ds.get(t);
  return el && el.vr === 'SQ' ? el.items : [];
};
const meaning = (ds: Dataset, t: Tag, charset: string | undefined): string => {
  const code = items(ds, t)[0];
  return code ? str(code, T.codeMeaning, 'LO', charset) : '';
};

/** The content tree of an SR (PS3.3 C.17.3): each item's concept name, its value as text, its children. */
function contentTree(item: Dataset, charset: string | undefined, depth = 0): Node {
  const type = str(item, T.valueType, 'CS', charset);
  let value = '';
  switch (type) {
    case 'TEXT':
      value = str(item, T.textValue, 'UT', charset);
      break;
    case 'CODE':
      value = meaning(item, T.conceptCode, charset);
      break;
    case 'NUM': {
      const mv = items(item, T.measuredValue)[0];
      value = mv ? `${str(mv, T.numericValue, 'DS', charset)} ${meaning(mv, T.units, charset)}`.trim() : '';
      break;
    }
    case 'PNAME':
      value = str(item, T.personName, 'PN', charset).replace(/\^/g, ' ');
      break;
    case 'DATE':
      value = str(item, T.date, 'DA', charset);
      break;
    case 'TIME':
      value = str(item, T.time, 'TM', charset);
      break;
    case 'DATETIME':
      value = str(item, T.dateTime, 'DT', charset);
      break;
    case 'UIDREF':
      value = str(item, T.uid, 'UI', charset);
      break;
    case 'IMAGE':
    case 'COMPOSITE':
    case 'WAVEFORM': {
      const ref = items(item, T.referencedSop)[0];
      value = ref ? `instance ${str(ref, T.referencedSopInstance, 'UI', charset)}` : '';
      break;
    }
    default:
      value = '';
  }
  const children = depth < 32 ? items(item, T.contentSequence).map((c) => contentTree(c, charset, depth + 1)) : [];
  return { heading: meaning(item, T.conceptName, charset), type, value, children };
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** An SR as a small standalone HTML document (UTF-8), content escaped. */
export function structuredReportHtml(ds: Dataset): string {
  const charset = ds.specificCharacterSet;
  const root = contentTree(ds, charset);
  const patient = [str(ds, T.patientName, 'PN', charset).replace(/\^/g, ' '), str(ds, T.patientId, 'LO', charset)]
    .filter(Boolean)
    .join(' — ');
  const status = [str(ds, T.completion, 'CS', charset), str(ds, T.verification, 'CS', charset)]
    .filter(Boolean)
    .join(', ');
  const node = (n: Node, level: number): string => {
    if (n.type === 'CONTAINER') {
      const h = Math.min(level, 6);
      return `<section><h${h}>${escapeHtml(n.heading)}</h${h}>${n.children.map((c) => node(c, level + 1)).join('')}</section>`;
    }
    const children = n.children.length
      ? `<ul>${n.children.map((c) => `<li>${node(c, level + 1)}</li>`).join('')}</ul>`
      : '';
    return `<p><b>${escapeHtml(n.heading)}</b>${n.heading && n.value ? ': ' : ''}${escapeHtml(n.value)}</p>${children}`;
  };
  return (
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(root.heading || 'Structured report')}</title></head><body>` +
    `${patient ? `<p>${escapeHtml(patient)}</p>` : ''}${status ? `<p><i>${escapeHtml(status)}</i></p>` : ''}${node(root, 1)}</body></html>\n`
  );
}

/** An SR as indented plain text. */
export function structuredReportText(ds: Dataset): string {
  const root = contentTree(ds, ds.specificCharacterSet);
  const lines: string[] = [];
  const walk = (n: Node, indent: string): void => {
    if (n.type === 'CONTAINER') lines.push(`${indent}${n.heading.toUpperCase()}`);
    else lines.push(`${indent}${n.heading}${n.heading && n.value ? ': ' : ''}${n.value}`);
    for (const c of n.children) walk(c, `${indent}  `);
  };
  walk(root, '');
  return `${lines.join('\n')}\n`;
}

const ICON_LABEL: Record<Exclude<SopKind, 'image'>, string> = {
  pdf: 'PDF',
  sr: 'REPORT',
  video: 'VIDEO',
  other: 'DICOM',
};

/** A thumbnail for an instance that is not an image: a document glyph with a label, at the requested size. */
export async function iconImage(
  kind: Exclude<SopKind, 'image'>,
  size: { width: number; height: number },
  mediaType: ImageMediaType,
  quality: number,
): Promise<Buffer> {
  await bundledFonts();
  const label = ICON_LABEL[kind];
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">
<rect width="128" height="128" fill="#000"/>
<path d="M34 14h44l20 20v80H34z" fill="#e8e8e8" stroke="#888" stroke-width="2"/><path d="M78 14v20h20" fill="#bbb"/>
${kind === 'video' ? '<path d="M56 52l24 14-24 14z" fill="#555"/>' : '<path d="M44 50h44M44 60h44M44 70h36" stroke="#999" stroke-width="4"/>'}
<text x="66" y="102" font-family="${ANNOTATION_FONT}" font-size="16" font-weight="bold" text-anchor="middle" fill="#333">${label}</text></svg>`;
  let img = sharp(Buffer.from(svg))
    .resize(size.width, size.height, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 1 } })
    .flatten({ background: '#000' });
  if (mediaType === 'image/png') return img.png().toBuffer();
  if (mediaType === 'image/gif') return img.gif().toBuffer();
  img = img.jpeg({ quality });
  return img.toBuffer();
}
