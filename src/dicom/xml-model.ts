import type { DicomJsonObject, PersonNameJson, JsonValue } from './json-model.js';
import { attributeByTag } from './dictionary.js';
import { parseHexTag } from './tag.js';

/** Native DICOM Model XML (PS3.19 Annex A), made from the DICOM JSON model. */
export function toNativeDicomXml(json: DicomJsonObject): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM" xml:space="preserve">${attributes(json)}</NativeDicomModel>\n`;
}

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function attributes(json: DicomJsonObject): string {
  let out = '';
  for (const [tagHex, attr] of Object.entries(json)) {
    const t = parseHexTag(tagHex);
    const keyword = t !== undefined ? attributeByTag(t)?.keyword : undefined;
    out += `<DicomAttribute tag="${tagHex}" vr="${attr.vr}"${keyword ? ` keyword="${keyword}"` : ''}>`;
    if (attr.InlineBinary !== undefined) out += `<InlineBinary>${attr.InlineBinary}</InlineBinary>`;
    if (attr.BulkDataURI !== undefined) out += `<BulkData uri="${escapeXml(attr.BulkDataURI)}"/>`;
    (attr.Value ?? []).forEach((v, i) => {
      out += value(attr.vr, v, i + 1);
    });
    out += '</DicomAttribute>';
  }
  return out;
}

const PN_PARTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;

function personName(pn: PersonNameJson, n: number): string {
  let out = `<PersonName number="${n}">`;
  for (const group of ['Alphabetic', 'Ideographic', 'Phonetic'] as const) {
    const text = pn[group];
    if (!text) continue;
    out += `<${group}>`;
    text.split('^').forEach((component, i) => {
      const name = PN_PARTS[i];
      if (name && component) out += `<${name}>${escapeXml(component)}</${name}>`;
    });
    out += `</${group}>`;
  }
  return `${out}</PersonName>`;
}

function value(vr: string, v: JsonValue, n: number): string {
  if (v === null) return `<Value number="${n}"/>`;
  if (vr === 'SQ') return `<Item number="${n}">${attributes(v as DicomJsonObject)}</Item>`;
  if (vr === 'PN') return personName(v as PersonNameJson, n);
  return `<Value number="${n}">${escapeXml(String(v))}</Value>`;
}
