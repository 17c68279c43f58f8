import { describe, it, expect } from 'vitest';
import { Dataset } from './dataset.js';
import { tag, Tags } from './tag.js';
import { toDicomJson } from './json-model.js';
import { decodeText } from './charset.js';
import { toNativeDicomXml } from './xml-model.js';
import { encodeText } from '../samples/patients.js';
import { PATIENTS } from '../samples/catalog.js';

describe('DICOM JSON model (PS3.18 Annex F)', () => {
  const ds = new Dataset()
    .setText(Tags.PatientName, 'Doe^John=ドウ^ジョン\\Roe^Jane')
    .setText(tag(0x0028, 0x0030), '0.5\\0.5', 'DS')
    .setText(tag(0x0020, 0x0013), '7', 'IS')
    .set({ tag: tag(0x0028, 0x0009), vr: 'AT', bytes: Buffer.from([0x18, 0x00, 0x63, 0x10]) })
    .setEmpty(tag(0x0008, 0x1030))
    .set({ tag: tag(0x0009, 0x1001), vr: 'OB', bytes: Buffer.from([1, 2, 3, 4]) })
    .setUint16(tag(0x0028, 0x0100), 16);

  it('writes PN as component groups, DS/IS as numbers, AT as hex, empty values without Value', () => {
    const json = toDicomJson(ds);
    expect(json['00100010']).toEqual({
      vr: 'PN',
      Value: [{ Alphabetic: 'Doe^John', Ideographic: 'ドウ^ジョン' }, { Alphabetic: 'Roe^Jane' }],
    });
    expect(json['00280030']).toEqual({ vr: 'DS', Value: [0.5, 0.5] });
    expect(json['00200013']).toEqual({ vr: 'IS', Value: [7] });
    expect(json['00280009']).toEqual({ vr: 'AT', Value: ['00181063'] });
    expect(json['00081030']).toEqual({ vr: 'LO' });
    expect(json['00091001']).toEqual({ vr: 'OB', InlineBinary: 'AQIDBA==' });
    expect(json['00280100']).toEqual({ vr: 'US', Value: [16] });
  });

  it('turns large binary values into BulkDataURI when asked', () => {
    const json = toDicomJson(ds, { inlineBinaryMaxBytes: 2, bulkDataUri: (p) => `http://x/bulk/${p}` });
    expect(json['00091001']).toEqual({ vr: 'OB', BulkDataURI: 'http://x/bulk/00091001' });
    const nested = new Dataset().setSequence(tag(0x0054, 0x0016), [
      new Dataset(),
      new Dataset().set({ tag: tag(0x0018, 0x1072), vr: 'OB', bytes: Buffer.alloc(8) }),
    ]);
    expect(toDicomJson(nested, { bulkDataUri: (p) => p })['00540016']?.Value?.[1]).toEqual({
      '00181072': { vr: 'OB', BulkDataURI: '00540016/1/00181072' },
    });
  });

  it('renders the same content as PS3.19 Native DICOM Model XML', () => {
    const xml = toNativeDicomXml(toDicomJson(ds));
    expect(xml).toContain(
      '<DicomAttribute tag="00100010" vr="PN" keyword="PatientName"><PersonName number="1"><Alphabetic><FamilyName>Doe</FamilyName><GivenName>John</GivenName></Alphabetic><Ideographic><FamilyName>ドウ</FamilyName><GivenName>ジョン</GivenName></Ideographic></PersonName>',
    );
    expect(xml).toContain(
      '<DicomAttribute tag="00280030" vr="DS" keyword="PixelSpacing"><Value number="1">0.5</Value><Value number="2">0.5</Value></DicomAttribute>',
    );
  });
});

describe('character sets (PS3.5 §6.1, Annexes H, I, K)', () => {
  it.each(PATIENTS.map((p) => [p.charset || '(default)', p] as const))(
    'decodes %s person names encoded by an independent encoder (iconv-lite)',
    (_c, patient) => {
      expect(decodeText(encodeText(patient.name, patient.charset), patient.charset || undefined, 'PN')).toBe(
        patient.name,
      );
    },
  );

  /** The remaining character sets of PS3.3 C.12.1.1.2 the gateway decodes, beyond the fixture patients. */
  it.each([
    ['ISO_IR 109', 'Borġ^Ġużeppi'],
    ['ISO_IR 110', 'Ķēniņš^Jānis'],
    ['ISO_IR 127', 'قباني^نزار'],
    ['ISO_IR 138', 'שרון^דבורה'],
    ['ISO_IR 148', 'Öztürk^Şükrü'],
    ['ISO_IR 166', 'ใจดี^สมชาย'],
    ['ISO_IR 13', 'ﾔﾏﾀﾞ^ﾀﾛｳ'],
    ['GBK', 'Wang^XiaoDong=王^小东='],
    ['\\ISO 2022 IR 58', 'Zhang^SanFeng=张^三丰='],
    ['\\ISO 2022 IR 159', 'Yamada^Tarou=丂^丄='],
  ])('decodes %s', (charset, name) => {
    expect(decodeText(encodeText(name, charset), charset, 'PN')).toBe(name);
  });

  it('decodes the PS3.5 H.3.1 Japanese example byte for byte', () => {
    const hex =
      '59 61 6d 61 64 61 5e 54 61 72 6f 75 3d 1b 24 42 3b 33 45 44 1b 28 42 5e 1b 24 42 42 40 4f 3a 1b 28 42 3d 1b 24 42 24 64 24 5e 24 40 1b 28 42 5e 1b 24 42 24 3f 24 6d 24 26 1b 28 42';
    const bytes = Uint8Array.from(hex.split(' ').map((h) => Number.parseInt(h, 16)));
    expect(decodeText(bytes, '\\ISO 2022 IR 87', 'PN')).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
  });

  it('splits multi-valued text only after decoding (a GBK trail byte may be 0x5C)', () => {
    const ds = new Dataset().setText(Tags.SpecificCharacterSet, 'GB18030').set({
      tag: tag(0x0008, 0x1030),
      vr: 'LO',
      bytes: Buffer.concat([encodeText('王', 'GB18030'), Buffer.from([0x95, 0x5c])]),
    });
    const json = toDicomJson(ds);
    expect(json['00081030']?.Value?.length).toBe(1);
  });
});
