/**
 * QIDO-RS through the real gateway against three back ends loaded with the fixtures: real PACSes (DCMTK dcmqrscp
 * and Orthanc) and the gateway's own embedded archive (the fixtures sent by DCMTK storescu). The same suite runs
 * against each; expectations come from fixtures/catalog.ts, and where the back ends differ (what a PACS does not
 * apply), from what each is known to do.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { PACS_KINDS, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway, gatewayOnEmbeddedArchive } from './harness/gateway.js';
import { startFederation } from './harness/federation.js';
import { PATIENTS, allStudies, allInstances } from '../src/samples/catalog.js';
import type { DicomJsonObject, PersonNameJson } from '../src/dicom/json-model.js';

type Gateway = Pick<Awaited<ReturnType<typeof startTestGateway>>, 'base' | 'httpUrl' | 'close'>;

/** Each back end, started with the fixtures, and what it does with keys a PACS may leave unapplied. */
const BACKENDS = {
  dcmqrscp: { start: () => startBehindPacs('dcmqrscp'), checksSequences: false, fuzzy: false, returnsSopClass: false },
  orthanc: { start: () => startBehindPacs('orthanc'), checksSequences: false, fuzzy: false, returnsSopClass: true },
  embedded: {
    start: async () => ({ gw: await gatewayOnEmbeddedArchive(), stop: async () => {} }),
    checksSequences: true,
    fuzzy: true,
    returnsSopClass: true,
  },
  // Orthanc, dcmqrscp and the embedded archive, some studies in two of them: every answer merged, each match once.
  federation: {
    start: async () => {
      const { gw, stop } = await startFederation();
      return { gw: { ...gw, close: async () => {} }, stop };
    },
    checksSequences: false,
    fuzzy: false,
    returnsSopClass: true,
  },
} as const;

async function startBehindPacs(kind: keyof typeof PACS_KINDS): Promise<{ gw: Gateway; stop: () => Promise<void> }> {
  const pacs: TestPacs = await PACS_KINDS[kind]();
  try {
    return { gw: await startTestGateway(pacs), stop: () => pacs.stop() };
  } catch (err) {
    await pacs.stop();
    throw err;
  }
}

const str = (obj: DicomJsonObject, tag: string): string | undefined => {
  const v = obj[tag]?.Value?.[0];
  return typeof v === 'string' ? v : undefined;
};

function expectedPersonName(name: string): PersonNameJson {
  const [a, i, p] = name.split('=');
  return { ...(a ? { Alphabetic: a } : {}), ...(i ? { Ideographic: i } : {}), ...(p ? { Phonetic: p } : {}) };
}

for (const kind of Object.keys(BACKENDS) as (keyof typeof BACKENDS)[]) {
  const backend = BACKENDS[kind];
  describe(`QIDO-RS against ${kind}`, () => {
    let stop: (() => Promise<void>) | undefined;
    let gw: Gateway;

    async function search(
      path: string,
      init?: RequestInit,
    ): Promise<{ status: number; headers: Headers; body: DicomJsonObject[] }> {
      const res = await fetch(`${gw.base}${path}`, init);
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as DicomJsonObject[]) : [] };
    }

    beforeAll(async () => {
      ({ gw, stop } = await backend.start());
    });
    afterAll(async () => {
      await gw?.close();
      await stop?.();
    });

    it('finds every study, each with a RetrieveURL pointing back at the gateway', async () => {
      const { status, headers, body } = await search('/studies');
      expect(status).toBe(200);
      expect(headers.get('content-type')).toBe('application/dicom+json');
      const expected = allStudies()
        .map((s) => s.study.uid)
        .sort();
      expect(body.map((s) => str(s, '0020000D')).sort()).toEqual(expected);
      for (const s of body) expect(str(s, '00081190')).toBe(`${gw.base}/studies/${str(s, '0020000D')}`);
      expect(headers.get('warning')).toBeNull();
    });

    it('matches PatientName with a wildcard, by keyword and by tag', async () => {
      const byKeyword = await search('/studies?PatientName=Doe*');
      const byTag = await search('/studies?00100010=Doe*');
      const doe = PATIENTS[0]?.studies.map((s) => s.uid).sort();
      expect(byKeyword.body.map((s) => str(s, '0020000D')).sort()).toEqual(doe);
      expect(byTag.body.map((s) => str(s, '0020000D')).sort()).toEqual(doe);
    });

    it.each(['20220101-20221231', '-20191231', '20240101-', '20200115'])(
      'matches StudyDate range %s',
      async (range) => {
        const [from, to] = range.includes('-') ? range.split('-') : [range, range];
        const inRange = (d: string): boolean => (!from || d >= from) && (!to || d <= to);
        const { status, body } = await search(`/studies?StudyDate=${range}`);
        expect(status).toBe(200);
        const expected = allStudies()
          .filter((s) => inRange(s.study.date))
          .map((s) => s.study.uid)
          .sort();
        expect(expected.length).toBeGreaterThan(0);
        expect(body.map((s) => str(s, '0020000D')).sort()).toEqual(expected);
      },
    );

    it('matches a comma-separated UID list', async () => {
      const [a, b] = allStudies();
      const { body } = await search(`/studies?StudyInstanceUID=${a?.study.uid},${b?.study.uid}`);
      expect(body.map((s) => str(s, '0020000D')).sort()).toEqual([a?.study.uid, b?.study.uid].sort());
    });

    it.each(PATIENTS.map((p) => [p.charset || 'default repertoire', p] as const))(
      'decodes a %s patient name into Unicode',
      async (_charset, patient) => {
        const { status, body } = await search(`/studies?PatientID=${encodeURIComponent(patient.id)}`);
        expect(status).toBe(200);
        expect(body.length).toBe(patient.studies.length);
        for (const s of body) {
          expect(s['00100010']?.Value?.[0]).toEqual(expectedPersonName(patient.name));
          if (s['00080005']) expect(s['00080005'].Value).toEqual(['ISO_IR 192']);
        }
      },
    );

    it("lists a study's series with the default series attributes", async () => {
      const study = PATIENTS[0]?.studies[0];
      const { status, body } = await search(`/studies/${study?.uid}/series`);
      expect(status).toBe(200);
      expect(body.map((s) => str(s, '0020000E')).sort()).toEqual(study?.series.map((s) => s.uid).sort());
      for (const s of body) {
        expect(str(s, '00080060')).toBe('CT');
        expect(str(s, '00081190')).toBe(`${gw.base}/studies/${study?.uid}/series/${str(s, '0020000E')}`);
        expect(typeof s['00200011']?.Value?.[0]).toBe('number');
      }
    });

    it('searches all series by modality across studies, with the study attributes', async () => {
      const { status, body } = await search('/series?Modality=CT');
      expect(status).toBe(200);
      const expected = PATIENTS.flatMap((p) =>
        p.studies.flatMap((st) => st.series.filter((se) => se.modality === 'CT').map((se) => se.uid)),
      ).sort();
      expect(body.map((s) => str(s, '0020000E')).sort()).toEqual(expected);
      for (const s of body) {
        expect(str(s, '00100020')).toMatch(/^PAT-/);
        expect(str(s, '0020000D')).toBeDefined();
      }
    });

    it("lists a series' instances and a study's instances (with series attributes)", async () => {
      const study = PATIENTS[0]?.studies[0];
      const series = study?.series[0];
      const inSeries = await search(`/studies/${study?.uid}/series/${series?.uid}/instances`);
      expect(inSeries.status).toBe(200);
      const expected = [...allInstances()]
        .filter((i) => i.series.uid === series?.uid)
        .map((i) => i.uid)
        .sort();
      expect(inSeries.body.map((i) => str(i, '00080018')).sort()).toEqual(expected);
      for (const i of inSeries.body) {
        // dcmqrscp's index does not keep SOP Class UID at image level; Orthanc does.
        if (backend.returnsSopClass) expect(str(i, '00080016')).toBe('1.2.840.10008.5.1.4.1.1.2');
        expect(str(i, '00081190')).toBe(
          `${gw.base}/studies/${study?.uid}/series/${series?.uid}/instances/${str(i, '00080018')}`,
        );
      }
      const inStudy = await search(`/studies/${study?.uid}/instances`);
      expect(inStudy.body.length).toBe([...allInstances()].filter((i) => i.study.uid === study?.uid).length);
      for (const i of inStudy.body) expect(str(i, '00080060')).toBe('CT');
    });

    it('searches all instances of a patient, with study and series attributes', async () => {
      const { body } = await search('/instances?PatientID=PAT-KOREAN');
      const expected = [...allInstances()]
        .filter((i) => i.patient.id === 'PAT-KOREAN')
        .map((i) => i.uid)
        .sort();
      expect(body.map((i) => str(i, '00080018')).sort()).toEqual(expected);
      for (const i of body) {
        expect(str(i, '00100020')).toBe('PAT-KOREAN');
        expect(str(i, '00080060')).toBe('CT');
      }
    });

    it('pages with limit and offset, warns when a page is cut short, and answers [] past the end', async () => {
      const total = allStudies().length;
      const seen = new Set<string>();
      for (let offset = 0; ; offset += 4) {
        const page = await search(`/studies?limit=4&offset=${offset}`);
        expect(page.status).toBe(200);
        if (page.body.length === 0) break;
        expect(page.body.length).toBeLessThanOrEqual(4);
        const more = offset + page.body.length < total;
        expect(page.headers.get('warning') !== null).toBe(more);
        if (more) expect(page.headers.get('warning')).toMatch(/^299 /);
        for (const s of page.body) seen.add(str(s, '0020000D') ?? '');
      }
      expect(seen.size).toBe(total);
      const past = await search('/studies?offset=1000');
      expect(past.status).toBe(200);
      expect(past.body).toEqual([]);
    });

    it('applies sequence matching the back end ignores, and warns where it cannot check it', async () => {
      const study = PATIENTS[0]?.studies[0];
      const withProcedure = study?.series.find((se) => se.requestedProcedureId)?.uid;
      const hit = await search(`/studies/${study?.uid}/series?00400275.00401001=RP-1001`);
      expect(hit.status).toBe(200);
      expect(hit.body.map((s) => str(s, '0020000E'))).toContain(withProcedure);
      const miss = await search(`/studies/${study?.uid}/series?RequestAttributesSequence.RequestedProcedureID=NOPE`);
      expect(miss.status).toBe(200);
      // A series whose returned sequence says RP-1001 must never match NOPE; series without the sequence in the
      // answer cannot be checked, and the Warning says so.
      for (const s of miss.body) expect(s['00400275']).toBeUndefined();
      if (backend.checksSequences) {
        // The archive holds every attribute: the key is applied exactly, nothing is left to warn about.
        expect(miss.body).toEqual([]);
        expect(miss.headers.get('warning')).toBeNull();
      } else {
        expect(miss.headers.get('warning')).toMatch(/sequence matching keys could not be verified/);
      }
      if (kind !== 'dcmqrscp') expect(miss.body.map((s) => str(s, '0020000E'))).not.toContain(withProcedure);
    });

    it('answers 200 [] when nothing matches', async () => {
      const { status, body } = await search('/studies?PatientID=NOBODY');
      expect(status).toBe(200);
      expect(body).toEqual([]);
    });

    it('returns includefield attributes', async () => {
      const { body } = await search(`/studies?PatientID=PAT-ASCII-1&includefield=StudyDescription`);
      const descriptions = body.map((s) => str(s, '00081030')).sort();
      expect(descriptions).toEqual(['CT CHEST', 'MR HEAD']);
    });

    it('answers multipart/related; type="application/dicom+xml" with one Native DICOM Model part per match', async () => {
      const res = await fetch(`${gw.base}/studies?PatientID=PAT-JAPANESE`, {
        headers: { accept: 'multipart/related; type=application/dicom+xml' },
      });
      expect(res.status).toBe(200);
      const contentType = res.headers.get('content-type') ?? '';
      expect(contentType).toMatch(/^multipart\/related; type="application\/dicom\+xml"; boundary=/);
      const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
      const text = await res.text();
      const parts = text.split(`--${boundary}`).filter((p) => p.includes('<NativeDicomModel'));
      expect(parts.length).toBe(1);
      expect(parts[0]).toContain('<Ideographic><FamilyName>山田</FamilyName><GivenName>太郎</GivenName></Ideographic>');
      expect(text.trimEnd().endsWith(`--${boundary}--`)).toBe(true);
    });

    it('applies fuzzymatching=true where the back end can, and says so with a 299 Warning where it cannot', async () => {
      const { status, headers, body } = await search('/studies?PatientName=doe*&fuzzymatching=true');
      expect(status).toBe(200);
      if (!backend.fuzzy) {
        expect(headers.get('warning')).toMatch(/fuzzymatching/);
        expect(Array.isArray(body)).toBe(true);
        return;
      }
      expect(headers.get('warning')).toBeNull();
      expect(body.map((s) => str(s, '0020000D')).sort()).toEqual(PATIENTS[0]?.studies.map((st) => st.uid).sort());
      // Case and diacritics ignored, each word the start of a name word: "muller jur" finds Müller^Jürgen.
      const muller = await search('/studies?PatientName=muller%20jur&fuzzymatching=true');
      expect(muller.body.map((s) => str(s, '00100020'))).toContain('PAT-LATIN1');
      expect((await search('/studies?PatientName=muller%20jur')).body).toEqual([]);
    });

    it.each([
      ['/studies?StudyDate=2020-01-01', 'DWG_BAD_MATCH_VALUE'],
      ['/studies?limit=ten', 'DWG_BAD_PARAMETER'],
      ['/studies?NoSuchKeyword=1', 'DWG_UNKNOWN_ATTRIBUTE'],
      ['/studies?StudyInstanceUID=1.2.abc', 'DWG_BAD_UID'],
      [`/studies/${'1.2'.repeat(30)}/series`, 'DWG_BAD_UID'],
      ['/studies?StudyDate=20201231-20200101', 'DWG_BAD_MATCH_VALUE'],
    ])('rejects %s with 400 %s', async (path, code) => {
      const res = await fetch(`${gw.base}${path}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe(code);
      expect(body.message.length).toBeGreaterThan(10);
    });

    it('answers 406 when no acceptable media type is asked for', async () => {
      const res = await fetch(`${gw.base}/studies`, { headers: { accept: 'image/jpeg' } });
      expect(res.status).toBe(406);
      expect(((await res.json()) as { error: string }).error).toBe('DWG_NOT_ACCEPTABLE');
    });

    it('is ready when the back end is (a PACS answers C-ECHO, the archive its index)', async () => {
      const res = await fetch(`${gw.httpUrl}/readyz`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('ready');
    });
  });
}
