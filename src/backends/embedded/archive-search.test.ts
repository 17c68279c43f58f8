import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../devkit/temp.js';
import type { MatchKey, SearchRequest } from '../../archive/archive.js';
import type { DicomJsonObject } from '../../dicom/json-model.js';
import { tag, type Tag } from '../../dicom/tag.js';
import { ArchiveIndex, type IndexedInstance } from './archive-index.js';
import { searchArchive } from './archive-search.js';

// 300 studies, one instance each: patient "PAT{p}" (3 studies each), study s dated s days before 2026-01-01, and a
// last study with a Study Time but no Study Date. With limit 10 a key that matches more than 100 studies is walked
// in result order (correlated check), one that matches fewer is looked up by value: both forms must answer alike.
const STUDIES = 300;
const PN = tag(0x0010, 0x0010);
const DATE = tag(0x0008, 0x0020);
const ACCESSION = tag(0x0008, 0x0050);

const studyUid = (s: number): string => `1.2.826.0.1.3680043.10.1.${s}`;
const dateOf = (s: number): string =>
  new Date(Date.UTC(2026, 0, 1) - s * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');

function instance(s: number): IndexedInstance {
  const sop = `${studyUid(s)}.1.1`;
  const metadata: DicomJsonObject = {
    '00080018': { vr: 'UI', Value: [sop] },
    '00080050': { vr: 'SH', Value: [`ACC${s}`] },
    '00080060': { vr: 'CS', Value: ['MR'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: `PAT${Math.floor(s / 3)}` }] },
    '0020000D': { vr: 'UI', Value: [studyUid(s)] },
    ...(s < STUDIES
      ? { '00080020': { vr: 'DA', Value: [dateOf(s)] } }
      : { '00080030': { vr: 'TM', Value: ['120000'] } }),
  };
  return {
    sopInstanceUid: sop,
    seriesInstanceUid: `${studyUid(s)}.1`,
    studyInstanceUid: studyUid(s),
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    instanceNumber: 1,
    path: `x/${s}`,
    bytes: 1,
    modality: 'MR',
    metadata,
  };
}

let index: ArchiveIndex;
beforeAll(() => {
  index = new ArchiveIndex(path.join(tempDir('archive-search'), 'index.sqlite'));
  index.addAll(Array.from({ length: STUDIES + 1 }, (_, s) => instance(s)));
});
afterAll(() => index.close());

async function studies(matches: [Tag, MatchKey['vr'], string][], limit = 10, offset = 0): Promise<string[]> {
  const request: SearchRequest = {
    level: 'STUDY',
    matches: matches.map(([t, vr, value]) => ({ path: [t], vr, value })),
    includes: [],
    includeAll: false,
    limit,
    offset,
    fuzzyMatching: false,
  };
  const out: string[] = [];
  for await (const m of searchArchive(index, request).matches) out.push(m.uids.study);
  return out;
}
/** Studies s in [first, last], newest first (the archive's order), from `offset`, at most `limit`. */
const expected = (ss: number[], limit = 10, offset = 0): string[] =>
  ss
    .sort((a, b) => a - b)
    .slice(offset, offset + limit)
    .map(studyUid);
const range = (first: number, last: number): number[] => Array.from({ length: last - first + 1 }, (_, i) => first + i);

describe('embedded archive search: wide and narrow keys', () => {
  it('a key matching most of the archive returns its first page in result order', async () => {
    expect(await studies([[PN, 'PN', 'PAT*']])).toEqual(expected(range(0, STUDIES - 1)));
    expect(await studies([[PN, 'PN', 'PAT*']], 10, 250)).toEqual(expected(range(0, STUDIES - 1), 10, 250));
    expect(await studies([[ACCESSION, 'SH', 'ACC1*']], 10, 100)).toEqual(
      expected(
        range(0, STUDIES).filter((s) => String(s).startsWith('1')),
        10,
        100,
      ),
    );
  });

  it('a key matching a few studies returns all of them', async () => {
    expect(await studies([[PN, 'PN', 'PAT7']])).toEqual(expected([21, 22, 23]));
    expect(await studies([[ACCESSION, 'SH', 'ACC299']])).toEqual(expected([299]));
  });

  it('a Study Date range answers the same for a day, a few days, most of the archive and open ends', async () => {
    expect(await studies([[DATE, 'DA', `${dateOf(5)}-${dateOf(5)}`]])).toEqual(expected([5]));
    expect(await studies([[DATE, 'DA', `${dateOf(42)}-${dateOf(40)}`]])).toEqual(expected([40, 41, 42]));
    expect(await studies([[DATE, 'DA', `${dateOf(280)}-${dateOf(20)}`]], 10, 30)).toEqual(
      expected(range(20, 280), 10, 30),
    );
    expect(await studies([[DATE, 'DA', `${dateOf(290)}-`]], 100)).toEqual(expected(range(0, 290), 100));
    // The study without a Study Date (its date_time is its time alone) does not match an open start.
    expect(await studies([[DATE, 'DA', `-${dateOf(200)}`]], 200)).toEqual(expected(range(200, STUDIES - 1), 200));
  });

  it('a narrow and a wide key together, whichever is narrower', async () => {
    expect(
      await studies([
        [PN, 'PN', 'PAT*'],
        [DATE, 'DA', `${dateOf(12)}-${dateOf(10)}`],
      ]),
    ).toEqual(expected([10, 11, 12]));
    expect(
      await studies(
        [
          [PN, 'PN', 'PAT1*'],
          [DATE, 'DA', `${dateOf(299)}-${dateOf(0)}`],
        ],
        100,
      ),
    ).toEqual(
      expected(
        range(0, STUDIES - 1).filter((s) => String(Math.floor(s / 3)).startsWith('1')),
        100,
      ),
    );
  });
});
