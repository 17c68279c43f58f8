/**
 * The embedded archive against a real modality stand-in: DCMTK storescu sends the fixtures (nine character
 * sets, CT/MR/US, multi-frame) and the imaging phantoms to the Storage SCP; QIDO, WADO-RS and rendering are then
 * answered from the archive alone, the same way they are in front of a PACS.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { EmbeddedArchive, type EmbeddedArchiveSettings } from '../src/backends/embedded/embedded-archive.js';
import { configSchema } from '../src/config/schema.js';
import { run } from '../devkit/processes.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { tempDir } from '../devkit/temp.js';
import { allInstances, allStudies, PATIENTS } from '../src/samples/catalog.js';
import { IMAGING_FIXTURES, IMAGING_STUDY } from '../src/samples/imaging.js';
import { imagingFixtureFiles } from './harness/imaging.js';
import { appOver } from './harness/fake-archive.js';
import { pino } from 'pino';
import { startGateway } from '../src/gateway.js';
import { FakeArchive } from './harness/fake-archive.js';
import { encodePart10File } from '../src/dicom/part10.js';
import { Tags } from '../src/dicom/tag.js';
import { TransferSyntax } from '../src/dicom/transfer-syntax.js';
import { DimseClient } from '../src/dimse-bridge/dimse-client.js';
import { testAssociation } from './harness/associate.js';
import { metaEnd } from './harness/variants.js';

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

type Json = Record<string, { vr: string; Value?: unknown[] }>;
const value = (json: Json | undefined, hex: string): unknown => json?.[hex]?.Value?.[0];

const dimse = configSchema.parse({ dimse: { port: 0, host: '127.0.0.1' }, http: { host: '127.0.0.1' } }).dimse;
const hooks = {
  logger: pino({ level: process.env.DWG_TEST_LOG ?? 'silent' }),
  onStoreRefused: () => {},
  listenProblem: (err: unknown) => err,
};

async function storescu(port: number, files: string[]): Promise<{ code: number; out: string }> {
  const r = await run('storescu', [
    '-v',
    '-aet',
    'MODALITY',
    '-aec',
    'DICOMWEB',
    '127.0.0.1',
    String(port),
    ...files,
  ]).catch((err: Error & { code?: number }) => ({ stdout: err.message, stderr: '', code: 1 }));
  return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

describe('embedded archive (storescu → Storage SCP → SQLite index)', () => {
  let settings: EmbeddedArchiveSettings;
  let archive: EmbeddedArchive;
  let served: ReturnType<typeof appOver>;
  const files = [...fixtureFiles().files, ...imagingFixtureFiles().values()];

  beforeAll(async () => {
    settings = { dir: tempDir('archive'), duplicates: 'keep', minFreeBytes: 0, inlineBinaryMaxBytes: 1024 };
    archive = await EmbeddedArchive.start(settings, dimse, hooks);
    const sent = await storescu(archive.storageScp?.port ?? 0, files);
    expect(sent.code, sent.out).toBe(0);
    served = appOver(archive);
  }, 60_000);

  afterAll(async () => {
    await served?.close();
    await archive?.close();
  });

  const get = async (url: string, accept?: string) =>
    served.app.inject({ method: 'GET', url: `/dicomweb${url}`, ...(accept ? { headers: { accept } } : {}) });

  it('acknowledged every instance only once indexed: all are searchable', async () => {
    expect(archive.index.instanceCount).toBe(files.length);
    expect(archive.instanceCount).toBe(files.length);
    const res = await get('/studies?limit=1000');
    expect(res.statusCode).toBe(200);
    expect((res.json() as Json[]).length).toBe(allStudies().length + 1);
  });

  it('matches names case-insensitively with wildcards, decoded from each character set', async () => {
    for (const patient of PATIENTS) {
      const family = patient.name.split('=')[0]?.split('^')[0] ?? '';
      const res = await get(`/studies?PatientName=${encodeURIComponent(`${family.toLowerCase()}*`)}`);
      const found = res.json() as Json[];
      expect(found.length, patient.id).toBe(patient.studies.length);
      expect((value(found[0], '00100010') as { Alphabetic?: string }).Alphabetic, patient.id).toBe(
        patient.name.split('=')[0],
      );
    }
  });

  it('applies date ranges, UID lists and ModalitiesInStudy, and computes the counts', async () => {
    const studies = allStudies();
    const in2021 = studies.filter((s) => s.study.date >= '20210101' && s.study.date <= '20211231');
    expect(((await get('/studies?StudyDate=20210101-20211231')).json() as Json[]).length).toBe(in2021.length);
    const two = studies.slice(0, 2).map((s) => s.study.uid);
    expect(
      ((await get(`/studies?StudyInstanceUID=${two.join(',')}`)).json() as Json[])
        .map((j) => value(j, '0020000D'))
        .sort(),
    ).toEqual([...two].sort());
    const withMr = studies.filter((s) => s.study.series.some((se) => se.modality === 'MR'));
    const phantomsHaveMr = IMAGING_FIXTURES.some((f) => f.modality === 'MR');
    expect(((await get('/studies?ModalitiesInStudy=MR')).json() as Json[]).length).toBe(
      withMr.length + (phantomsHaveMr ? 1 : 0),
    );
    const first = studies[0];
    const [row] = (await get(`/studies?StudyInstanceUID=${first?.study.uid}`)).json() as Json[];
    expect(value(row, '00201206')).toBe(first?.study.series.length);
    expect(value(row, '00201208')).toBe(first?.study.series.reduce((a, se) => a + se.instances, 0));
    expect(row?.['00080061']?.Value).toEqual([...new Set(first?.study.series.map((se) => se.modality))].sort());
  });

  it('pages exactly with limit and offset, and says when there is more', async () => {
    const all = (await get('/studies?limit=1000')).json() as Json[];
    const page = await get('/studies?limit=3&offset=2');
    expect((page.json() as Json[]).map((j) => value(j, '0020000D'))).toEqual(
      all.slice(2, 5).map((j) => value(j, '0020000D')),
    );
    expect([page.headers.warning].flat().join()).toMatch(/more matches than this page holds/);
    const last = await get(`/studies?limit=3&offset=${all.length - 3}`);
    expect(last.headers.warning).toBeUndefined();
  });

  it('searches series and instances with the study attributes the path does not give', async () => {
    const instance = [...allInstances()][0];
    const res = await get(`/instances?SOPInstanceUID=${instance?.uid}`);
    const [row] = res.json() as Json[];
    expect(value(row, '0020000D')).toBe(instance?.study.uid);
    expect(value(row, '00100020')).toBe(instance?.patient.id);
    expect(value(row, '00081190')).toMatch(
      new RegExp(`/studies/${instance?.study.uid}/series/${instance?.series.uid}/instances/${instance?.uid}$`),
    );
    const series = await get(`/studies/${instance?.study.uid}/series?Modality=${instance?.series.modality}`);
    expect((series.json() as Json[]).length).toBe(
      instance?.study.series.filter((se) => se.modality === instance.series.modality).length,
    );
  });

  it('serves metadata, frames and a thumbnail from the archive', async () => {
    const mf = IMAGING_FIXTURES.find((f) => f.key === 'multiframe');
    const url = `/studies/${IMAGING_STUDY.uid}/series/${mf?.seriesUid}/instances/${mf?.uid}`;
    const [meta] = (await get(`${url}/metadata`)).json() as Json[];
    expect(value(meta, '00080018')).toBe(mf?.uid);
    const frames = await get(`${url}/frames/3`, 'multipart/related; type="application/octet-stream"');
    expect(frames.statusCode).toBe(200);
    expect(frames.rawPayload.length).toBeGreaterThan(128 * 128 * 2);
    const thumb = await get(`/studies/${IMAGING_STUDY.uid}/thumbnail`, 'image/jpeg');
    expect(thumb.statusCode).toBe(200);
    expect((await sharp(thumb.rawPayload).metadata()).format).toBe('jpeg');
  });

  it('keeps the archived copy of a duplicate, and survives a restart with the same answers', async () => {
    const before = (await get('/studies?limit=1000')).body;
    const again = await storescu(archive.storageScp?.port ?? 0, files.slice(0, 3));
    expect(again.code, again.out).toBe(0);
    expect(archive.index.instanceCount).toBe(files.length);
    await served.close();
    await archive.close();
    archive = await EmbeddedArchive.start(settings, dimse, hooks);
    served = appOver(archive);
    expect((await get('/studies?limit=1000')).body).toBe(before);
  });

  it('serves /metadata from what it stored at ingest, the same as read from the files', async () => {
    const fromFiles = appOver(
      new FakeArchive({ files: archive.index.instancesIn({ study: IMAGING_STUDY.uid }).map((i) => i.path) }),
    );
    try {
      const stored = await get(`/studies/${IMAGING_STUDY.uid}/metadata`);
      const read = await fromFiles.app.inject({
        method: 'GET',
        url: `/dicomweb/studies/${IMAGING_STUDY.uid}/metadata`,
      });
      expect(stored.statusCode).toBe(200);
      expect(stored.json()).toEqual(read.json());
      expect((stored.json() as Json[]).length).toBe(IMAGING_FIXTURES.length);
    } finally {
      await fromFiles.close();
    }
  });

  it('rebuilds the index from the files — by reindex, or at start when it is missing or damaged — with the same answers', async () => {
    const answers = async (): Promise<string[]> =>
      Promise.all(
        [
          get('/studies?limit=1000&includefield=all'),
          get('/instances?limit=1000'),
          get(`/studies/${IMAGING_STUDY.uid}/metadata`),
        ].map(async (r) => (await r).body),
      );
    const before = await answers();
    const reopen = async (): Promise<void> => {
      await served.close();
      await archive.close();
      archive = await EmbeddedArchive.start(settings, dimse, hooks);
      served = appOver(archive);
    };
    await served.close();
    await archive.close();
    const configFile = path.join(tempDir('reindex-config'), 'gateway.yaml');
    writeFileSync(configFile, `archive: { dir: ${JSON.stringify(settings.dir)} }\n`);
    const cli = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'reindex', '--config', configFile]);
    expect(cli.stdout).toMatch(new RegExp(`tenant default: ${files.length} instance\\(s\\) indexed`));
    archive = await EmbeddedArchive.start(settings, dimse, hooks);
    served = appOver(archive);
    expect(await answers()).toEqual(before);
    await archive.close();
    for (const f of ['index.sqlite', 'index.sqlite-wal', 'index.sqlite-shm'])
      rmSync(path.join(settings.dir, f), { force: true });
    archive = await EmbeddedArchive.start(settings, dimse, hooks);
    await reopen();
    expect(await answers()).toEqual(before);
    await served.close();
    await archive.close();
    writeFileSync(path.join(settings.dir, 'index.sqlite'), Buffer.alloc(8192, 0x5a));
    archive = await EmbeddedArchive.start(settings, dimse, hooks);
    served = appOver(archive);
    expect(await answers()).toEqual(before);
    expect(readdirSync(settings.dir).some((f) => f.startsWith('index.sqlite.damaged-'))).toBe(true);
  }, 60_000);

  it('follows archive.duplicates: keep answers Success and keeps the first copy, replace takes the new one', async () => {
    const f = IMAGING_FIXTURES.find((x) => x.key === 'sc-8bit-odd');
    if (!f) throw new Error('fixture missing');
    const changed = f.build().setText(Tags.PatientID, 'PAT-SECOND-COPY', 'LO');
    const copy = path.join(tempDir('duplicate'), 'copy.dcm');
    writeFileSync(copy, encodePart10File(changed, { sopClassUid: f.sopClassUid, sopInstanceUid: f.uid }));
    const url = `/studies/${IMAGING_STUDY.uid}/series/${f.seriesUid}/instances/${f.uid}/metadata`;
    for (const duplicates of ['keep', 'replace'] as const) {
      const dir = tempDir(`dup-${duplicates}`);
      const a = await EmbeddedArchive.start({ ...settings, dir, duplicates }, dimse, hooks);
      const app = appOver(a);
      try {
        const original = imagingFixtureFiles().get(f) as string;
        for (const file of [original, copy]) {
          const sent = await storescu(a.storageScp?.port ?? 0, [file]);
          expect(sent.code, sent.out).toBe(0);
        }
        expect(a.index.instanceCount).toBe(1);
        expect(a.instanceCount).toBe(1); // what readiness and metrics say: a second copy is not a second instance
        const [meta] = (await app.app.inject({ method: 'GET', url: `/dicomweb${url}` })).json() as Json[];
        expect(value(meta, '00100020')).toBe(duplicates === 'keep' ? IMAGING_STUDY.patientId : 'PAT-SECOND-COPY');
      } finally {
        await app.close();
        await a.close();
      }
    }
  });

  it("answers A900 to a dataset whose SOP class is not its presentation context's, and keeps nothing of it", async () => {
    const mr = IMAGING_FIXTURES.find((f) => f.key === 'mr-12bit');
    const file = readFileSync(imagingFixtureFiles().get(mr as (typeof IMAGING_FIXTURES)[number]) as string);
    const before = archive.index.instanceCount;
    const association = await testAssociation({
      port: archive.storageScp?.port ?? 0,
      calledAeTitle: 'DICOMWEB',
      presentationContexts: [
        { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] },
      ],
    });
    try {
      // An MR dataset under a CT context and command (same SOP Instance UID): PS3.4 §B.2.3 A900.
      const status = await new DimseClient(association, { responseTimeoutMs: 10_000 }).store(
        CT_IMAGE_STORAGE,
        mr?.uid ?? '',
        TransferSyntax.ExplicitVRLittleEndian,
        file.subarray(metaEnd(file)),
      );
      expect(status).toBe(0xa900);
    } finally {
      await association.release();
    }
    expect(archive.index.instanceCount).toBe(before);
    expect(archive.instanceCount).toBe(before);
  });

  it('stores an instance from another inlet than the SCP (storeInstance): durable and searchable, or refused with its status', async () => {
    const f = IMAGING_FIXTURES.find((x) => x.key === 'cr-mono1');
    if (!f) throw new Error('fixture missing');
    const sop = `${f.uid}.7`;
    const part10 = encodePart10File(f.build().setText(Tags.SOPInstanceUID, sop, 'UI'), {
      sopClassUid: f.sopClassUid,
      sopInstanceUid: sop,
    });
    const dataset = part10.subarray(metaEnd(part10));
    const chunks = async function* (): AsyncGenerator<Buffer> {
      for (let at = 0; at < dataset.length; at += 4096) yield dataset.subarray(at, at + 4096);
    };
    const stored = await archive.storeInstance({
      sopClassUid: f.sopClassUid,
      sopInstanceUid: sop,
      transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
      source: 'TEST',
      dataset: chunks(),
    });
    expect(stored).toEqual({ status: 0 });
    const [found] = (await get(`/instances?SOPInstanceUID=${sop}`)).json() as Json[];
    expect(value(found, '00080018')).toBe(sop);
    const mismatch = await archive.storeInstance({
      sopClassUid: f.sopClassUid,
      sopInstanceUid: `${sop}.8`,
      transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian,
      source: 'TEST',
      dataset: chunks(),
    });
    expect(mismatch.status).toBe(0xc000);
    expect((await get(`/instances?SOPInstanceUID=${sop}.8`)).json()).toEqual([]);
  });

  it('refuses with A700 below the free-space reserve, leaving no file and no index row', async () => {
    const dir = tempDir('archive-full');
    const free = statfsSync(dir).bavail * statfsSync(dir).bsize;
    const full = await EmbeddedArchive.start(
      { dir, duplicates: 'keep', minFreeBytes: free * 2, inlineBinaryMaxBytes: 1024 },
      dimse,
      hooks,
    );
    try {
      const sent = await storescu(full.storageScp?.port ?? 0, files.slice(0, 1));
      expect(sent.out).toMatch(/A700|Out of Resources|Refused/i);
      expect(full.index.instanceCount).toBe(0);
      const left = readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.dcm') || f.endsWith('.part'));
      expect(left).toEqual([]);
    } finally {
      await full.close();
    }
  });
});

describe('the gateway with no PACS configured', () => {
  it('starts on its embedded archive, and what storescu sends is searchable, retrievable and renderable over HTTP', async () => {
    const config = configSchema.parse({
      http: { host: '127.0.0.1', port: 0 },
      dimse: { port: 0 },
      archive: { dir: tempDir('gw-archive') },
      cache: { dir: tempDir('gw-cache') },
      auth: { mode: 'none' },
      log: { level: process.env.DWG_TEST_LOG ?? 'silent' },
    });
    expect(config.backend).toBe('embedded');
    const gw = await startGateway(config);
    try {
      const port = gw.archive.storageScp?.port ?? 0;
      const phantoms = [...imagingFixtureFiles().values()];
      const sent = await storescu(port, phantoms);
      expect(sent.code, sent.out).toBe(0);
      const base = `${gw.httpUrl}/dicomweb`;
      const ready = await fetch(`${gw.httpUrl}/readyz`);
      expect(await ready.json()).toMatchObject({ status: 'ready', archive: { instances: phantoms.length } });
      const studies = (await (
        await fetch(`${base}/studies?PatientID=${encodeURIComponent(IMAGING_STUDY.patientId)}`)
      ).json()) as Json[];
      expect(studies.map((j) => value(j, '0020000D'))).toEqual([IMAGING_STUDY.uid]);
      const ct = IMAGING_FIXTURES.find((f) => f.key === 'ct-signed');
      const rendered = await fetch(
        `${base}/studies/${IMAGING_STUDY.uid}/series/${ct?.seriesUid}/instances/${ct?.uid}/rendered`,
        { headers: { accept: 'image/png' } },
      );
      expect(rendered.status).toBe(200);
      const png = await sharp(Buffer.from(await rendered.arrayBuffer())).metadata();
      expect([png.format, png.width, png.height]).toEqual(['png', 256, 256]);
    } finally {
      await gw.close();
    }
  }, 60_000);
});
