/** Value representations (PS3.5 §6.2) and the facts about them the codecs need. */
export const VRS = [
  'AE',
  'AS',
  'AT',
  'CS',
  'DA',
  'DS',
  'DT',
  'FD',
  'FL',
  'IS',
  'LO',
  'LT',
  'OB',
  'OD',
  'OF',
  'OL',
  'OV',
  'OW',
  'PN',
  'SH',
  'SL',
  'SQ',
  'SS',
  'ST',
  'SV',
  'TM',
  'UC',
  'UI',
  'UL',
  'UN',
  'UR',
  'US',
  'UT',
  'UV',
] as const;
export type VR = (typeof VRS)[number];

const vrSet: ReadonlySet<string> = new Set(VRS);
export const isVR = (text: string): text is VR => vrSet.has(text);

/** VRs whose explicit-VR header has 2 reserved bytes and a 32-bit length (PS3.5 §7.1.2). */
const LONG_HEADER: ReadonlySet<VR> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'UV']);
export const hasLongExplicitHeader = (vr: VR): boolean => LONG_HEADER.has(vr);

/** Text VRs whose bytes are decoded with the Specific Character Set (PS3.5 §6.1.2.3). */
const CHARSET_TEXT: ReadonlySet<VR> = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);
export const usesSpecificCharacterSet = (vr: VR): boolean => CHARSET_TEXT.has(vr);

/** Multi-valued text VRs split on backslash; these do not (PS3.5 §6.4). */
const SINGLE_VALUED_TEXT: ReadonlySet<VR> = new Set(['LT', 'ST', 'UT', 'UR']);
export const isSingleValuedText = (vr: VR): boolean => SINGLE_VALUED_TEXT.has(vr);

export const isBinaryVR = (vr: VR): boolean =>
  vr === 'OB' || vr === 'OD' || vr === 'OF' || vr === 'OL' || vr === 'OV' || vr === 'OW' || vr === 'UN';

/** Padding byte for text values of odd length: NUL for UI, space otherwise (PS3.5 §6.2). */
export const paddingFor = (vr: VR): number => (vr === 'UI' || isBinaryVR(vr) ? 0x00 : 0x20);
