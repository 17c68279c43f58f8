import { describe, it, expect } from 'vitest';
import { datasetFromDicomJson } from './json-to-dataset.js';
import { toDicomJson } from './json-model.js';
import { writeDataset, readDataset } from './dataset-codec.js';

describe('datasetFromDicomJson', () => {
  it('encodes every VR family so that it reads back as the same JSON (binary numbers, tags, names in all groups, sequences)', () => {
    const json = {
      '00100010': {
        vr: 'PN' as const,
        Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }],
      },
      '00181063': { vr: 'DS' as const, Value: [0.1 + 0.2, 12] },
      '00200013': { vr: 'IS' as const, Value: [7] },
      '00280030': { vr: 'DS' as const, Value: ['0.5', '0.5'] },
      '00281052': { vr: 'DS' as const, Value: [-1024] },
      '00189219': { vr: 'FD' as const, Value: [1.5, -2.25] },
      '00460100': { vr: 'FL' as const, Value: [0.25] },
      '00280106': { vr: 'SS' as const, Value: [-2000] },
      '00280010': { vr: 'US' as const, Value: [512] },
      '00209165': { vr: 'AT' as const, Value: ['00209056', '00209057'] },
      '00420011': { vr: 'OB' as const, InlineBinary: Buffer.from([1, 2, 3]).toString('base64') },
      '00400275': { vr: 'SQ' as const, Value: [{ '00401001': { vr: 'SH' as const, Value: ['RP-1'] } }] },
    };
    const { dataset, bulk } = datasetFromDicomJson(json);
    expect(bulk).toEqual([]);
    const back = toDicomJson(
      readDataset(writeDataset(dataset, { explicitVR: true, littleEndian: true }), {
        explicitVR: true,
        littleEndian: true,
      }),
    );
    expect(back['00080005']?.Value).toEqual(['ISO_IR 192']);
    expect(back['00100010']?.Value).toEqual(json['00100010'].Value);
    expect(back['00181063']?.Value).toEqual([0.3, 12]); // 0.30000000000000004 does not fit 16 characters
    expect(back['00189219']?.Value).toEqual([1.5, -2.25]);
    expect(back['00460100']?.Value).toEqual([0.25]);
    expect(back['00280106']?.Value).toEqual([-2000]);
    expect(back['00209165']?.Value).toEqual(['00209056', '00209057']);
    expect(back['00420011']?.InlineBinary).toBe(Buffer.from([1, 2, 3, 0]).toString('base64')); // padded to even length
    expect(back['00400275']?.Value).toEqual([{ '00401001': { vr: 'SH', Value: ['RP-1'] } }]);
  });

  it('lists BulkDataURIs at the top level, refuses them in items, and refuses what is not DICOM JSON', () => {
    expect(datasetFromDicomJson({ '7FE00010': { vr: 'OW', BulkDataURI: 'urn:x' } }).bulk).toEqual([
      { tag: 0x7fe00010, vr: 'OW', uri: 'urn:x' },
    ]);
    expect(() =>
      datasetFromDicomJson({ '00400275': { vr: 'SQ', Value: [{ '00420011': { vr: 'OB', BulkDataURI: 'urn:y' } }] } }),
    ).toThrow(/inside a sequence item/);
    expect(() => datasetFromDicomJson({ xyz: { vr: 'CS' } } as never)).toThrow(/not a tag/);
    expect(() => datasetFromDicomJson({ '00100020': { vr: 'QQ', Value: ['1'] } } as never)).toThrow(/unknown VR/);
  });
});
