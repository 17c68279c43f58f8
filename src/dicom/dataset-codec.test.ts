import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Dataset } from './dataset.js';
import { readDataset, writeDataset, DatasetParseError } from './dataset-codec.js';
import { tag, Tags } from './tag.js';
import { toDicomJson } from './json-model.js';
import { tempDir } from '../../devkit/temp.js';

function sample(): Dataset {
  const item = new Dataset().setText(tag(0x0040, 0x1001), 'RP-1').setText(tag(0x0040, 0x0009), 'SPS-1');
  return new Dataset()
    .setText(Tags.SpecificCharacterSet, 'ISO_IR 192')
    .setText(Tags.PatientName, 'Gómez^José')
    .setText(Tags.StudyInstanceUID, '1.2.3.4')
    .setUint16(tag(0x0028, 0x0010), 512)
    .setText(tag(0x0018, 0x0050), '1.25', 'DS')
    .setSequence(tag(0x0040, 0x0275), [item])
    .setEmpty(tag(0x0008, 0x0061));
}

describe('dataset codec (PS3.5 §7)', () => {
  it.each([true, false])('round-trips explicit=%s VR little endian, sequences included', (explicitVR) => {
    const bytes = writeDataset(sample(), { explicitVR, littleEndian: true });
    const back = readDataset(bytes, { explicitVR, littleEndian: true });
    expect(toDicomJson(back)).toEqual(toDicomJson(sample()));
    expect(writeDataset(back, { explicitVR, littleEndian: true })).toEqual(bytes);
  });

  it('reads what DCMTK writes (dump2dcm dataset, defined-length sequences)', () => {
    const dir = tempDir('codec');
    writeFileSync(
      path.join(dir, 'in.txt'),
      [
        '(0008,0005) CS [ISO_IR 100]',
        '(0010,0010) PN [M\\xfcller^J\\xfcrgen]',
        '(0020,000d) UI [1.2.3]',
        '(0040,0275) SQ (Sequence with explicit length)',
        '(fffe,e000) na (Item with explicit length)',
        '(0040,1001) SH [RP-7]',
        '(fffe,e00d) na',
        '(fffe,e0dd) na',
      ].join('\n'),
    );
    execFileSync('dump2dcm', ['-F', '+e', '+te', path.join(dir, 'in.txt'), path.join(dir, 'out.dcm')]);
    const bytes = readFileSync(path.join(dir, 'out.dcm'));
    const ds = readDataset(bytes, { explicitVR: true, littleEndian: true });
    expect(ds.getString(Tags.StudyInstanceUID)).toBe('1.2.3');
    const json = toDicomJson(ds);
    expect(json['00400275']?.Value?.[0]).toEqual({ '00401001': { vr: 'SH', Value: ['RP-7'] } });
  });

  it('throws DatasetParseError on truncated input', () => {
    const bytes = writeDataset(sample(), { explicitVR: true, littleEndian: true });
    for (const cut of [3, 9, bytes.length - 3]) {
      expect(() => readDataset(bytes.subarray(0, cut), { explicitVR: true, littleEndian: true })).toThrow(
        DatasetParseError,
      );
    }
  });
});
