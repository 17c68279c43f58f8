import { describe, it, expect } from 'vitest';
import { DimseSearch } from './search.js';
import type { PacsPeer, FindSession } from './pacs-peer.js';
import type { SearchRequest, SearchMatch } from '../../archive/archive.js';
import { Dataset } from '../../dicom/dataset.js';
import { Tags, tag } from '../../dicom/tag.js';
import { toDicomJson, type DicomJsonObject } from '../../dicom/json-model.js';

/** A fake archive: studies with series, answering identifiers the way a baseline Study Root SCP would. */
function fakeBackend(studyCount: number, seriesPerStudy: number) {
  const identifiers: DicomJsonObject[] = [];
  let cancelled = 0;
  const backend: PacsPeer = {
    async find(identifier): Promise<FindSession> {
      identifiers.push(toDicomJson(identifier));
      const level = identifier.getString(Tags.QueryRetrieveLevel);
      const study = identifier.getString(Tags.StudyInstanceUID);
      const rows: Dataset[] = [];
      for (let s = 1; s <= studyCount; s++) {
        if (level === 'STUDY')
          rows.push(
            new Dataset()
              .setText(Tags.StudyInstanceUID, `1.2.${s}`)
              .setText(Tags.PatientID, `P${s}`)
              .setText(Tags.QueryRetrieveLevel, 'STUDY'),
          );
        if (level === 'SERIES' && study === `1.2.${s}`) {
          for (let se = 1; se <= seriesPerStudy; se++)
            rows.push(
              new Dataset()
                .setText(Tags.StudyInstanceUID, `1.2.${s}`)
                .setText(Tags.SeriesInstanceUID, `1.2.${s}.${se}`)
                .setText(tag(0x0008, 0x0060), 'CT'),
            );
        }
      }
      let i = 0;
      const matches: FindSession['matches'] = {
        [Symbol.asyncIterator]() {
          return this;
        },
        async next() {
          return i < rows.length ? { done: false, value: rows[i++] as Dataset } : { done: true, value: undefined };
        },
        async return() {
          if (i < rows.length) cancelled++;
          i = rows.length;
          return { done: true, value: undefined };
        },
      };
      return { fuzzyMatchingApplied: false, cancelledByPeer: false, matches };
    },
    deliversToStorageScp: true,
    listsBeforeRetrieving: false,
    retrieve: () => Promise.reject(new Error('not used by QIDO')),
    echo: async () => ({ status: 0, roundTripMs: 0 }),
    close: async () => {},
  };
  return { backend, identifiers, cancelled: () => cancelled };
}

const request = (over: Partial<SearchRequest>): SearchRequest => ({
  level: 'STUDY',
  matches: [],
  includes: [],
  includeAll: false,
  limit: 100,
  offset: 0,
  fuzzyMatching: false,
  ...over,
});

async function all(it: AsyncIterable<SearchMatch>): Promise<DicomJsonObject[]> {
  const out: DicomJsonObject[] = [];
  for await (const x of it) out.push(x.json);
  return out;
}

describe('DimseSearch', () => {
  it('sends a STUDY-level identifier with ISO_IR 192, the default return keys and the match keys', async () => {
    const fake = fakeBackend(3, 1);
    const search = new DimseSearch(fake.backend, { maxFanOutStudies: 10 }).search(
      request({ matches: [{ path: [Tags.PatientID], vr: 'LO', value: 'P*' }] }),
    );
    const matches: SearchMatch[] = [];
    for await (const m of search.matches) matches.push(m);
    const results = matches.map((m) => m.json);
    expect(results.length).toBe(3);
    const id = fake.identifiers[0] as DicomJsonObject;
    expect(id['00080052']?.Value).toEqual(['STUDY']);
    expect(id['00080005']?.Value).toEqual(['ISO_IR 192']);
    expect(id['00100020']?.Value).toEqual(['P*']);
    expect(id['00201208']).toEqual({ vr: 'IS' }); // NumberOfStudyRelatedInstances asked as a return key
    expect(matches[0]?.uids).toEqual({ study: '1.2.1' });
    expect(results[0]?.['00080052']).toBeUndefined();
  });

  it('fans /series out over studies with the study UID as unique key, merging study attributes', async () => {
    const fake = fakeBackend(3, 2);
    const results = await all(
      new DimseSearch(fake.backend, { maxFanOutStudies: 10 }).search(request({ level: 'SERIES' })).matches,
    );
    expect(results.map((r) => r['0020000E']?.Value?.[0])).toEqual([
      '1.2.1.1',
      '1.2.1.2',
      '1.2.2.1',
      '1.2.2.2',
      '1.2.3.1',
      '1.2.3.2',
    ]);
    expect(results[0]?.['00100020']?.Value).toEqual(['P1']);
    expect(fake.identifiers.map((i) => i['00080052']?.Value?.[0])).toEqual(['STUDY', 'SERIES', 'SERIES', 'SERIES']);
    expect(fake.identifiers[1]?.['0020000D']?.Value).toEqual(['1.2.1']);
  });

  it('skips offset, stops at limit after one look-ahead, cancels the C-FIND and reports truncation', async () => {
    const fake = fakeBackend(10, 1);
    const search = new DimseSearch(fake.backend, { maxFanOutStudies: 10 }).search(request({ limit: 3, offset: 2 }));
    const results = await all(search.matches);
    expect(results.map((r) => r['0020000D']?.Value?.[0])).toEqual(['1.2.3', '1.2.4', '1.2.5']);
    expect(search.truncated).toBe(true);
    expect(fake.cancelled()).toBe(1);
  });

  it('does not report truncation when the page holds the last match', async () => {
    const fake = fakeBackend(5, 1);
    const search = new DimseSearch(fake.backend, { maxFanOutStudies: 10 }).search(request({ limit: 3, offset: 2 }));
    expect((await all(search.matches)).length).toBe(3);
    expect(search.truncated).toBe(false);
  });

  it('caps the studies a fan-out visits and says so', async () => {
    const fake = fakeBackend(5, 1);
    const search = new DimseSearch(fake.backend, { maxFanOutStudies: 2 }).search(request({ level: 'SERIES' }));
    expect((await all(search.matches)).length).toBe(2);
    expect(search.warnings.join()).toMatch(/first 2 studies/);
  });
});
