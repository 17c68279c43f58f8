import { ArchiveError } from '../archive/archive-error.js';
import { describe, it, expect, afterEach } from 'vitest';
import { FakeArchive, appOver } from '../../test/harness/fake-archive.js';
import type { SearchMatch } from '../archive/archive.js';
import { Tags } from '../dicom/tag.js';

/** QIDO-RS through the HTTP app over a fake archive: what the service adds to what the archive finds. */
const study = (uid: string, patientId: string): SearchMatch => ({
  json: {
    '00100020': { vr: 'LO', Value: [patientId] },
    '0020000D': { vr: 'UI', Value: [uid] },
    '00080020': { vr: 'DA', Value: ['20240101'] },
  },
  uids: { study: uid },
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function serve(archive: FakeArchive) {
  const built = appOver(archive);
  closers.push(built.close);
  return built.app;
}

describe('QidoService over an archive', () => {
  it('hands the archive the parsed search and adds a RetrieveURL, attributes in tag order', async () => {
    const archive = new FakeArchive({ matches: () => [study('1.2.3', 'P1')] });
    const res = await serve(archive).inject({ method: 'GET', url: '/dicomweb/studies?PatientID=P1&limit=5&offset=0' });
    expect(res.statusCode).toBe(200);
    expect(archive.searches).toHaveLength(1);
    expect(archive.searches[0]).toMatchObject({ level: 'STUDY', limit: 5, offset: 0, fuzzyMatching: false });
    expect(archive.searches[0]?.matches).toEqual([{ path: [Tags.PatientID], vr: 'LO', value: 'P1' }]);
    const [match] = res.json() as Record<string, { Value?: unknown[] }>[];
    expect(match?.['00081190']?.Value?.[0]).toMatch(/\/dicomweb\/studies\/1\.2\.3$/);
    expect(Object.keys(match ?? {})).toEqual(['00080020', '00081190', '00100020', '0020000D']);
  });

  it('builds RetrieveURLs of series from the UIDs the archive gives, not from the scope of the path', async () => {
    const archive = new FakeArchive({
      matches: () => [
        { json: { '0020000E': { vr: 'UI', Value: ['1.2.3.4'] } }, uids: { study: '1.2.3', series: '1.2.3.4' } },
      ],
    });
    const res = await serve(archive).inject({ method: 'GET', url: '/dicomweb/series' });
    const [match] = res.json() as Record<string, { Value?: unknown[] }>[];
    expect(match?.['00081190']?.Value?.[0]).toMatch(/\/dicomweb\/studies\/1\.2\.3\/series\/1\.2\.3\.4$/);
  });

  it('sends the warnings of the route and of the archive, and says when the page was cut at limit', async () => {
    const archive = new FakeArchive({
      matches: () => [study('1.1', 'A'), study('1.2', 'B'), study('1.3', 'C')],
      searchWarnings: ['the archive did not apply fuzzy matching'],
    });
    const res = await serve(archive).inject({
      method: 'GET',
      url: '/dicomweb/studies?limit=2&emptyvaluematching=true',
    });
    expect(res.statusCode).toBe(200);
    expect((res.json() as unknown[]).length).toBe(2);
    const warnings = [res.headers.warning].flat().join('\n');
    expect(warnings).toMatch(/emptyvaluematching is not supported/);
    expect(warnings).toMatch(/the archive did not apply fuzzy matching/);
    expect(warnings).toMatch(/more matches than this page holds/);
  });

  it('answers an archive failure with its status and JSON body, never an empty 200', async () => {
    const archive = new FakeArchive({ failure: new ArchiveError('unreachable', 'connection refused') });
    const res = await serve(archive).inject({ method: 'GET', url: '/dicomweb/studies' });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({
      error: 'DWG_PACS_UNREACHABLE',
      status: 502,
      message: 'the archive cannot be reached: connection refused',
    });
  });

  it('rejects a bad query before the archive is asked anything', async () => {
    const archive = new FakeArchive({ matches: () => [] });
    const res = await serve(archive).inject({ method: 'GET', url: '/dicomweb/studies?StudyDate=2024-13-99' });
    expect(res.statusCode).toBe(400);
    expect(archive.searches).toHaveLength(0);
  });
});
