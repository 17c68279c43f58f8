import { describe, it, expect } from 'vitest';
import { parseQidoQuery, resolveAttributePath } from './qido-params.js';
import { GatewayError } from '../errors.js';

const limits = { defaultLimit: 100, maxLimit: 500 };
const parse = (q: Record<string, string | string[]>, scope = { level: 'STUDY' as const }) =>
  parseQidoQuery(scope, q, limits);
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as GatewayError).code;
  }
  return undefined;
};

describe('QIDO-RS query parameters (PS3.18 §8.3.4)', () => {
  it('accepts keywords, tags and sequence paths', () => {
    expect(resolveAttributePath('PatientName', true).tags).toEqual([0x00100010]);
    expect(resolveAttributePath('00100010', true).tags).toEqual([0x00100010]);
    expect(resolveAttributePath('00400275.00401001', true)).toMatchObject({ tags: [0x00400275, 0x00401001], vr: 'SH' });
    expect(resolveAttributePath('RequestAttributesSequence.RequestedProcedureID', true).tags).toEqual([
      0x00400275, 0x00401001,
    ]);
    expect(code(() => resolveAttributePath('PatientName.PatientID', true))).toBe('DWG_BAD_PARAMETER');
    expect(code(() => resolveAttributePath('patientname', true))).toBe('DWG_UNKNOWN_ATTRIBUTE');
  });

  it.each([
    ['StudyDate', '20200101-20201231'],
    ['StudyDate', '-20201231'],
    ['StudyDate', '20200101-'],
    ['StudyDate', '20200229'],
    ['StudyTime', '0800-123000.5'],
    ['AcquisitionDateTime', '20200101120000-20200101130000'],
    ['AcquisitionDateTime', '20200101120000+0100'],
    ['StudyDate', '20000229'],
    ['StudyDate', '20240229-20240331'],
    ['AcquisitionDateTime', '2024'],
    ['AcquisitionDateTime', '20240229235960'],
    ['StudyTime', '235960'],
    ['PatientName', 'Y?mada*'],
    ['PatientID', ''],
    ['InstanceNumber', '12'],
  ])('accepts %s=%s', (key, value) => {
    expect(parse({ [key]: value }).matches[0]?.value).toBe(value);
  });

  it.each([
    ['StudyDate', '2020-01-01'],
    ['StudyDate', '20201301'],
    ['StudyDate', '-'],
    ['StudyDate', '20201231-20200101'],
    ['StudyDate', '2020*'],
    ['StudyTime', '2500'],
    ['StudyTime', '1260'],
    ['InstanceNumber', 'x'],
    // Calendar dates the same way everywhere: a day that does not exist is as wrong as a month that does not.
    ['StudyDate', '20200230'],
    ['StudyDate', '20210229'],
    ['StudyDate', '19000229'],
    ['StudyDate', '20200431'],
    ['StudyDate', '20200100'],
    ['StudyDate', '20200101-20200230'],
    ['AcquisitionDateTime', '20200230120000'],
    ['AcquisitionDateTime', '20201301'],
    ['AcquisitionDateTime', '20200101250000'],
    ['AcquisitionDateTime', '20200101120000+1500'],
    ['AcquisitionDateTime', '20200101-20200230'],
    ['StudyInstanceUID', '1.x.3'],
    ['StudyInstanceUID', `1.${'2'.repeat(70)}`],
    ['PatientID', 'a\\b'],
    ['PatientID', 'bad\u0001'],
    ['Modality', 'A-VERY-LONG-MODALITY'],
    ['RequestAttributesSequence', 'x'],
  ])('rejects %s=%s with 400', (key, value) => {
    const c = code(() => parse({ [key]: value }));
    expect(c === 'DWG_BAD_MATCH_VALUE' || c === 'DWG_BAD_UID').toBe(true);
  });

  it('turns comma-separated and repeated UIDs into a DIMSE UID list', () => {
    expect(parse({ StudyInstanceUID: '1.2.3,1.2.4' }).matches[0]?.value).toBe('1.2.3\\1.2.4');
    expect(parse({ StudyInstanceUID: ['1.2.3', '1.2.4'] }).matches[0]?.value).toBe('1.2.3\\1.2.4');
    expect(code(() => parse({ PatientID: ['a', 'b'] }))).toBe('DWG_BAD_PARAMETER');
  });

  it('applies limit/offset defaults and clamps limit with a warning', () => {
    expect(parse({})).toMatchObject({ limit: 100, offset: 0 });
    const r = parse({ limit: '9999', offset: '20' });
    expect(r).toMatchObject({ limit: 500, offset: 20 });
    expect(r.warnings[0]).toMatch(/500 applied/);
    expect(code(() => parse({ limit: '-1' }))).toBe('DWG_BAD_PARAMETER');
    expect(code(() => parse({ offset: '1.5' }))).toBe('DWG_BAD_PARAMETER');
  });

  it('says a limit or offset is too large rather than not a number, and refuses limit=0', () => {
    const message = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        return (e as GatewayError).message;
      }
      return '';
    };
    expect(message(() => parse({ offset: '99999999999999999999' }))).toMatch(/too large \(at most 999999999\)/);
    expect(parse({ offset: '999999999' }).offset).toBe(999_999_999);
    expect(message(() => parse({ limit: '0' }))).toMatch(/limit.*asks for no matches: give 1 or more/);
    expect(parse({ offset: '0' }).offset).toBe(0);
  });

  it('takes a UID with a leading-zero component (older archives hold them), refuses what cannot be a UID', () => {
    expect(parse({ StudyInstanceUID: '1.2.03' }).matches[0]?.value).toBe('1.2.03');
    expect(code(() => parse({ StudyInstanceUID: '1.2.a' }))).toBe('DWG_BAD_UID');
    expect(code(() => parse({ StudyInstanceUID: '1..2' }))).toBe('DWG_BAD_UID');
    expect(code(() => parse({ StudyInstanceUID: `1.${'2'.repeat(64)}` }))).toBe('DWG_BAD_UID');
  });

  it('reads includefield lists and all; warns about parameters it does not apply', () => {
    const r = parse({
      includefield: ['00081030,00080060', 'StudyDescription'],
      emptyvaluematching: 'true',
      charset: 'iso-8859-1',
      removefield: 'PatientBirthDate',
    });
    expect(r.includes).toEqual([[0x00081030], [0x00080060], [0x00081030]]);
    expect(r.warnings.join(' ')).toMatch(/emptyvaluematching.*removefield.*charset/);
    expect(parse({ includefield: 'all' }).includeAll).toBe(true);
    expect(parse({ fuzzymatching: 'true' }).fuzzyMatching).toBe(true);
    expect(code(() => parse({ fuzzymatching: 'yes' }))).toBe('DWG_BAD_PARAMETER');
  });

  it('refuses a key that repeats the UID already in the path', () => {
    expect(
      code(() => parseQidoQuery({ level: 'SERIES', studyUid: '1.2.3' }, { StudyInstanceUID: '1.2.4' }, limits)),
    ).toBe('DWG_BAD_PARAMETER');
  });
});
