import { Errors } from '../errors.js';
import { parseAccept, describeRanges, type MediaRange } from './accept.js';
import { TransferSyntax } from '../dicom/transfer-syntax.js';
import type { FrameOption } from '../services/frame-delivery.js';

/**
 * Media type negotiation for WADO-RS instances and frames (PS3.18 §8.7.3): which transfer syntaxes the client
 * takes, most preferred first. The service then picks, per instance, the first one it can produce.
 */

const byPreference = (a: MediaRange, b: MediaRange): number => b.q - a.q || a.index - b.index;
const UID_OR_STAR = /^(\*|[0-9]+(\.[0-9]+)*)$/;

function checkSyntax(value: string | undefined, ranges: MediaRange[]): void {
  if (value !== undefined && !UID_OR_STAR.test(value))
    throw Errors.notAcceptable(
      `${describeRanges(ranges)} (transfer-syntax=${value} is not a UID)`,
      'transfer-syntax=* or a transfer syntax UID',
    );
}

/**
 * Whether a range takes the answer, which is always multipart/related; type="application/dicom" (PS3.18
 * Table 8.7.3-2). A bare `application/dicom` asks for a single part, which is not offered: it does not accept it.
 */
function acceptsDicom(r: MediaRange): boolean {
  if (r.type === '*' && r.subtype === '*') return true;
  if (r.type === 'multipart' && (r.subtype === 'related' || r.subtype === '*'))
    return r.params.type === undefined || r.params.type === 'application/dicom';
  return false;
}

/**
 * Transfer syntaxes acceptable for `application/dicom` parts, '*' meaning "as stored". Without a
 * transfer-syntax parameter the default is Explicit VR Little Endian (PS3.18 §8.7.3.5.2, Table 8.7.3-2).
 */
export function instanceSyntaxes(accept: string | undefined): string[] {
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return [TransferSyntax.ExplicitVRLittleEndian];
  const ok = ranges.filter((r) => r.q > 0 && acceptsDicom(r)).sort(byPreference);
  if (ok.length === 0)
    throw Errors.notAcceptable(
      describeRanges(ranges),
      'multipart/related; type="application/dicom"[; transfer-syntax=*|UID]',
    );
  const out: string[] = [];
  for (const r of ok) {
    const ts = r.params['transfer-syntax'];
    checkSyntax(ts, ranges);
    const value = ts ?? TransferSyntax.ExplicitVRLittleEndian;
    if (!out.includes(value)) out.push(value);
  }
  return out;
}

/**
 * What a frames request accepts, most preferred first (PS3.18 §8.7.3.3, Tables 8.7.3-4/-5): the part media type
 * is the `type` parameter of multipart/related, or the range itself. No Accept header: native octet-stream.
 */
export function frameOptions(accept: string | undefined): FrameOption[] {
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return [{ mediaType: 'application/octet-stream', transferSyntax: undefined }];
  const out: FrameOption[] = [];
  for (const r of ranges.filter((x) => x.q > 0).sort(byPreference)) {
    const mediaType = r.type === 'multipart' ? (r.params.type ?? 'application/octet-stream') : `${r.type}/${r.subtype}`;
    const transferSyntax = r.params['transfer-syntax'];
    checkSyntax(transferSyntax, ranges);
    out.push({ mediaType, transferSyntax });
  }
  return out;
}
