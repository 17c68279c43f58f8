import { convertBytes } from 'dicom-character-set';
import type { VR } from './vr.js';

/**
 * Decodes text bytes to Unicode with the dataset's Specific Character Set (PS3.5 §6.1, PS3.3 C.12.1.1.2),
 * including ISO 2022 code extensions. `dicom-character-set` handles escape sequences and the PN/multi-value
 * delimiters that reset the active character set; splitting on "\" and "=" must happen after decoding because
 * a multi-byte character may contain those byte values.
 */
export function decodeText(bytes: Uint8Array, specificCharacterSet: string | undefined, vr: VR): string {
  if (isPlainAscii(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const term = normaliseTerm(specificCharacterSet);
  try {
    return convertBytes(term, bytes, { vr });
  } catch {
    // An unknown or broken Specific Character Set: Latin-1 keeps every byte visible rather than failing the answer.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

function isPlainAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80 || b === 0x1b) return false;
  }
  return true;
}

/** Empty leading value means the default repertoire for the first code element (PS3.3 C.12.1.1.2). */
function normaliseTerm(term: string | undefined): string | undefined {
  if (term === undefined) return undefined;
  const cleaned = term.trim();
  return cleaned === '' ? undefined : cleaned;
}

/** IANA names for DICOM character set terms (PS3.18 Table 8.8-1 via sources.md §2.1.2). */
export const IANA_CHARSET_BY_TERM: Readonly<Record<string, string>> = {
  'ISO_IR 6': 'US-ASCII',
  'ISO_IR 192': 'UTF-8',
  'ISO_IR 100': 'ISO-8859-1',
  'ISO_IR 101': 'ISO-8859-2',
  'ISO_IR 109': 'ISO-8859-3',
  'ISO_IR 110': 'ISO-8859-4',
  'ISO_IR 144': 'ISO-8859-5',
  'ISO_IR 127': 'ISO-8859-6',
  'ISO_IR 126': 'ISO-8859-7',
  'ISO_IR 138': 'ISO-8859-8',
  'ISO_IR 148': 'ISO-8859-9',
  'ISO_IR 166': 'TIS-620',
  'ISO_IR 13': 'Shift_JIS',
  GB18030: 'GB18030',
  GBK: 'GBK',
};
