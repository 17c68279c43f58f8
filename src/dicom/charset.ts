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
