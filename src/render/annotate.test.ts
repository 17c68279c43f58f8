import { describe, it, expect } from 'vitest';
import { readableName, formatDate, negotiateLocale, annotationLines } from './annotate.js';
import { Dataset } from '../dicom/dataset.js';
import { tag, Tags } from '../dicom/tag.js';

describe('annotation text', () => {
  it('writes person names for reading, every component group', () => {
    expect(readableName('Yamada^Tarou=山田^太郎=やまだ^たろう')).toBe('Yamada, Tarou = 山田, 太郎 = やまだ, たろう');
    expect(readableName('Doe^John^Q^Dr^Jr')).toBe('Doe, Dr John Q Jr');
  });

  it('formats dates per Accept-Language, ISO 8601 without one, never shifted by a time zone', () => {
    expect(formatDate('19700101', undefined)).toBe('1970-01-01');
    expect(formatDate('19700101', 'de-DE')).toBe('01.01.1970');
    expect(formatDate('20261231', 'en-US')).toBe('Dec 31, 2026');
    expect(negotiateLocale('fr-CH, fr;q=0.9, en;q=0.8')).toBe('fr-CH');
    expect(negotiateLocale('*')).toBeUndefined();
  });

  it('lists patient lines top left and technique lines bottom left', () => {
    const ds = new Dataset()
      .setText(Tags.SpecificCharacterSet, 'ISO_IR 192')
      .setText(Tags.PatientName, 'Gómez^José')
      .setText(Tags.PatientID, 'P1')
      .setText(tag(0x0010, 0x0030), '20000101', 'DA')
      .setText(tag(0x0010, 0x0040), 'F', 'CS')
      .setText(tag(0x0008, 0x0060), 'MR', 'CS')
      .setText(tag(0x0020, 0x0011), '3', 'IS')
      .setText(tag(0x0020, 0x0013), '7', 'IS')
      .setText(tag(0x0020, 0x1041), '12.5', 'DS');
    const lines = annotationLines(
      { dataset: ds, frame: 2, frames: 4, window: { center: 40, width: 400, fn: 'SIGMOID' }, locale: 'en-GB' },
      { patient: true, technique: true },
    );
    expect(lines.top).toEqual(['Gómez, José', 'ID: P1', '1 Jan 2000  F']);
    expect(lines.bottom).toEqual(['MR  Se 3  Im 7', 'Frame 2/4', 'Loc 12.5 mm', 'W 400  C 40  sigmoid']);
  });
});
