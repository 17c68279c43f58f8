/**
 * What an instance is, from its SOP Class UID alone (PS3.4 Annex B.5): an image to render, a document or report
 * with a rendering of its own, or something that is not shown. Known before any instance is retrieved, so a
 * study's rendered answer can say up front how many instances it leaves out (206, PS3.18 §10.4.3).
 */
export type SopKind = 'image' | 'pdf' | 'sr' | 'video' | 'other';

const STORAGE = '1.2.840.10008.5.1.4.1.1.';

/** Storage classes that have Pixel Data but are video streams (VL video, PS3.3 A.32.5–A.32.7). */
const VIDEO = new Set(['77.1.1.1', '77.1.2.1', '77.1.4.1'].map((s) => STORAGE + s));

/** Prefixes (under 1.2.840.10008.5.1.4.1.1.) of storage classes without an image: SR, presentation states, waveforms, documents, RT objects without pixels, raw data, registrations. */
const NOT_IMAGE = [
  '88.',
  '11.',
  '9.',
  '104.',
  '481.3',
  '481.4',
  '481.5',
  '481.6',
  '481.7',
  '481.8',
  '481.9',
  '481.10',
  '481.11',
  '66',
  '67',
  '68',
  '4.2',
  '78.',
  '79.',
  '80.',
  '90.',
  '91.',
  '200.',
  '501.2',
  '501.3',
  '501.4',
  '501.5',
  '501.6',
];

export function sopKind(sopClassUid: string): SopKind {
  if (!sopClassUid.startsWith(STORAGE)) return 'other';
  const rest = sopClassUid.slice(STORAGE.length);
  if (rest === '104.1') return 'pdf';
  if (rest.startsWith('88.')) return 'sr';
  if (VIDEO.has(sopClassUid)) return 'video';
  if (rest === '66.4') return 'image'; // Segmentation has pixels
  if (NOT_IMAGE.some((p) => (p.endsWith('.') ? rest.startsWith(p) : rest === p || rest.startsWith(`${p}.`))))
    return 'other';
  return 'image';
}
