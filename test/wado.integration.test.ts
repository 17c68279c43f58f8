/**
 * WADO-RS through the real gateway against Orthanc and dcmqrscp, with C-MOVE and with C-GET, and against the
 * gateway's own embedded archive (the fixtures sent by DCMTK storescu): instances, metadata, bulk data, frames;
 * expectations come from the fixtures and from DCMTK. One suite, every back end.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { PACS_KINDS, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway, gatewayOnEmbeddedArchive } from './harness/gateway.js';
import { startFederation, type Federation } from './harness/federation.js';
import { freePort } from '../devkit/ports.js';
import { fetchMultipart } from './harness/multipart.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { run } from '../devkit/processes.js';
import { metaEnd, metaOf } from './harness/variants.js';
import { allInstances, PATIENTS, type FixtureInstance } from '../src/samples/catalog.js';
import { readDataset } from '../src/dicom/dataset-codec.js';
import { toDicomJson, type DicomJsonObject } from '../src/dicom/json-model.js';
import { encodingOf } from '../src/dicom/transfer-syntax.js';
import { tempDir } from '../devkit/temp.js';

type Gateway = Pick<Awaited<ReturnType<typeof startTestGateway>>, 'base' | 'close'>;

const instances = [...allInstances()];
const fileOf = (inst: FixtureInstance): string => fixtureFiles().files[instances.indexOf(inst)] as string;
const datasetJson = (part10: Buffer): DicomJsonObject =>
  toDicomJson(readDataset(part10.subarray(metaEnd(part10)), encodingOf(metaOf(part10).transferSyntax)));
const pixelBytes = (part10: Buffer): Buffer => {
  const ds = readDataset(part10.subarray(metaEnd(part10)), encodingOf(metaOf(part10).transferSyntax));
  const el = ds.get(0x7fe00010);
  return el && 'bytes' in el ? el.bytes : Buffer.alloc(0);
};

/** Pixel data as DCMTK writes it out (dcmdump +W): the reference the frames are compared with. */
async function dcmtkPixelData(file: string): Promise<Buffer> {
  const dir = tempDir('dcmdump');
  await run('dcmdump', ['+W', dir, file]);
  const [raw] = readdirSync(dir).filter((f) => f.endsWith('.raw'));
  return readFileSync(path.join(dir, raw ?? ''));
}

const study = PATIENTS[0]?.studies[0];
const cine = instances.find((i) => i.series.frames);

const BACKENDS = [
  ['orthanc', 'move'],
  ['orthanc', 'get'],
  ['dcmqrscp', 'move'],
  ['dcmqrscp', 'get'],
  ['embedded', undefined],
  // Orthanc, dcmqrscp and the embedded archive behind one tenant, each study retrieved from where it is.
  ['federation', 'move'],
  ['federation', 'get'],
] as const;

for (const [kind, mode] of BACKENDS) {
  describe(
    mode ? `WADO-RS against ${kind} with C-${mode.toUpperCase()}` : 'WADO-RS against the embedded archive',
    () => {
      let pacs: TestPacs;
      let gw: Gateway;
      let federation: Federation | undefined;

      beforeAll(async () => {
        if (kind === 'embedded') {
          gw = await gatewayOnEmbeddedArchive();
          return;
        }
        if (kind === 'federation') {
          federation = await startFederation({ pacs: { retrieve: mode } });
          gw = { ...federation.gw, close: async () => {} };
          return;
        }
        const dimsePort = await freePort();
        pacs = await PACS_KINDS[kind]({
          moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
          verbose: true,
        });
        gw = await startTestGateway(pacs, { dimse: { port: dimsePort }, pacs: { retrieve: mode } });
      });
      afterAll(async () => {
        await gw?.close();
        await pacs?.stop();
        await federation?.stop();
      });

      it('retrieves a study as multipart/related application/dicom, every instance equal to its fixture', async () => {
        const r = await fetchMultipart(`${gw.base}/studies/${study?.uid}`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/dicom"; boundary=/);
        const expected = instances.filter((i) => i.study.uid === study?.uid);
        expect(r.parts.length).toBe(expected.length);
        for (const part of r.parts) {
          const sop = metaOf(part.body).sopInstanceUid;
          const inst = expected.find((i) => i.uid === sop);
          expect(inst, sop).toBeDefined();
          expect(part.headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
          expect(part.headers['content-location']).toBe(
            `${gw.base}/studies/${study?.uid}/series/${inst?.series.uid}/instances/${sop}`,
          );
          const source = readFileSync(fileOf(inst as FixtureInstance));
          if (inst?.series.requestedProcedureId) {
            // Both PACSes re-encode an undefined-length sequence with explicit lengths when they send it (storescu
            // too, into the archive): equal content.
            expect(datasetJson(part.body)).toEqual(datasetJson(source));
            expect(pixelBytes(part.body).equals(pixelBytes(source))).toBe(true);
          } else {
            expect(
              part.body.subarray(metaEnd(part.body)).equals(source.subarray(metaEnd(source))),
              `dataset bytes of ${sop}`,
            ).toBe(true);
          }
        }
      });

      it('retrieves a series and a single instance', async () => {
        const series = study?.series[1];
        const inSeries = instances.filter((i) => i.series.uid === series?.uid);
        const s = await fetchMultipart(`${gw.base}/studies/${study?.uid}/series/${series?.uid}`);
        expect(s.parts.map((p) => metaOf(p.body).sopInstanceUid).sort()).toEqual(inSeries.map((i) => i.uid).sort());
        const one = inSeries[0] as FixtureInstance;
        const i = await fetchMultipart(`${gw.base}/studies/${study?.uid}/series/${series?.uid}/instances/${one.uid}`);
        expect(i.parts.length).toBe(1);
        expect(datasetJson(i.parts[0]?.body as Buffer)).toEqual(datasetJson(readFileSync(fileOf(one))));
      });

      it('answers 404 for a study, series or instance the PACS does not have', async () => {
        for (const p of [
          `/studies/1.2.3.4.5`,
          `/studies/${study?.uid}/series/1.2.3.4.5`,
          `/studies/${study?.uid}/series/${study?.series[0]?.uid}/instances/1.2.3.4.5`,
        ]) {
          const r = await fetch(`${gw.base}${p}`);
          expect(r.status, p).toBe(404);
          expect(((await r.json()) as { error: string }).error).toBe('DWG_NOT_FOUND');
        }
      });

      it('gives metadata with BulkDataURIs for pixel data, which return the pixel data (also by byte range)', async () => {
        const res = await fetch(`${gw.base}/studies/${study?.uid}/metadata`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/dicom+json');
        const metadata = (await res.json()) as DicomJsonObject[];
        expect(metadata.length).toBe(instances.filter((i) => i.study.uid === study?.uid).length);
        const first = metadata[0] as DicomJsonObject;
        const sop = first['00080018']?.Value?.[0] as string;
        const source = readFileSync(fileOf(instances.find((i) => i.uid === sop) as FixtureInstance));
        const { '7FE00010': pixel, ...rest } = first;
        const { '7FE00010': _sourcePixel, ...sourceRest } = datasetJson(source);
        expect(rest).toEqual(sourceRest);
        const uri = pixel?.BulkDataURI as string;
        expect(uri).toMatch(new RegExp(`^${gw.base}/studies/.+/instances/${sop}/bulkdata/7FE00010$`));
        const whole = await fetch(uri, { headers: { accept: 'application/octet-stream' } });
        expect(Buffer.from(await whole.arrayBuffer()).equals(pixelBytes(source))).toBe(true);
        const ranged = await fetch(uri, { headers: { range: 'bytes=10-19' } });
        expect(ranged.status).toBe(206);
        expect(ranged.headers.get('content-range')).toBe(`bytes 10-19/${pixelBytes(source).length}`);
        expect(Buffer.from(await ranged.arrayBuffer()).equals(pixelBytes(source).subarray(10, 20))).toBe(true);
        expect((await fetch(uri, { headers: { range: 'bytes=999999-' } })).status).toBe(416);
        const multipart = await fetchMultipart(uri);
        expect(multipart.parts[0]?.body.equals(pixelBytes(source))).toBe(true);
      });

      it('returns the frames asked for from a multi-frame instance, equal to what DCMTK extracts, and 404 beyond the last', async () => {
        const base = `${gw.base}/studies/${cine?.study.uid}/series/${cine?.series.uid}/instances/${cine?.uid}`;
        const reference = await dcmtkPixelData(fileOf(cine as FixtureInstance));
        const frameSize = reference.length / (cine?.series.frames ?? 1);
        const r = await fetchMultipart(`${base}/frames/3,1`);
        expect(r.status).toBe(200);
        expect(r.parts.map((p) => p.headers['content-location'])).toEqual([`${base}/frames/3`, `${base}/frames/1`]);
        expect(r.parts[0]?.body.equals(reference.subarray(2 * frameSize, 3 * frameSize))).toBe(true);
        expect(r.parts[1]?.body.equals(reference.subarray(0, frameSize))).toBe(true);
        expect(r.parts[0]?.headers['content-type']).toBe(
          'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1',
        );
        const all = await fetchMultipart(`${base}/pixeldata`);
        expect(Buffer.concat(all.parts.map((p) => p.body)).equals(reference)).toBe(true);
        const beyond = await fetch(`${base}/frames/5`);
        expect(beyond.status).toBe(404);
        expect(((await beyond.json()) as { message: string }).message).toMatch(
          /frame 5 does not exist: the instance has 4 frames/,
        );
        expect((await fetch(`${base}/frames/0`)).status).toBe(400);
      });

      it("returns every frame of every instance of a series and a study for …/pixeldata, equal to DCMTK's extraction", async () => {
        const study = PATIENTS.find((p) => p.id === 'PAT-ASCII-1')?.studies[0];
        const series = study?.series[0];
        const inSeries = instances.filter((i) => i.series.uid === series?.uid);
        const r = await fetchMultipart(`${gw.base}/studies/${study?.uid}/series/${series?.uid}/pixeldata`);
        expect(r.status).toBe(200);
        expect(r.parts).toHaveLength(inSeries.length);
        for (const inst of inSeries) {
          const part = r.parts.find((p) => p.headers['content-location']?.endsWith(`/instances/${inst.uid}/frames/1`));
          expect(part?.body.equals(await dcmtkPixelData(fileOf(inst)))).toBe(true);
        }
        const whole = await fetchMultipart(`${gw.base}/studies/${study?.uid}/pixeldata`);
        expect(whole.parts).toHaveLength(instances.filter((i) => i.study.uid === study?.uid).length);
        expect((await fetch(`${gw.base}/studies/1.2.3.4.5/pixeldata`)).status).toBe(404);
      });

      if (kind === 'orthanc') {
        it("gives the same instance metadata as Orthanc's own DICOMweb (BulkDataURI values aside)", async () => {
          for (const inst of instances
            .filter((i) => ['PAT-ASCII-1', 'PAT-LATIN1', 'PAT-MULTIFRAME'].includes(i.patient.id))
            .slice(0, 4)) {
            const p = `/studies/${inst.study.uid}/series/${inst.series.uid}/instances/${inst.uid}/metadata`;
            const ours = ((await (await fetch(`${gw.base}${p}`)).json()) as DicomJsonObject[])[0] as DicomJsonObject;
            const theirs = (
              (await (await fetch(`http://127.0.0.1:${pacs.httpPort}/dicom-web${p}`)).json()) as DicomJsonObject[]
            )[0] as DicomJsonObject;
            const strip = (o: DicomJsonObject): DicomJsonObject =>
              Object.fromEntries(
                Object.entries(o).map(([k, v]) => [k, v.BulkDataURI ? { vr: v.vr, BulkDataURI: '(uri)' } : v]),
              );
            expect(strip(ours)).toEqual(strip(theirs));
          }
        });
      }

      if (kind === 'dcmqrscp') {
        it('shares one retrieval between 10 concurrent requests for the same study (counted in the PACS log)', async () => {
          const target = PATIENTS.find((p) => p.id === 'PAT-LATIN2')?.studies[0];
          const count = (): number => (pacs.output().match(/Message Type\s*: C-(MOVE|GET) RQ/g) ?? []).length;
          await new Promise((r) => setTimeout(r, 200)); // dcmqrscp's forked children log late: let earlier tests' lines in first
          const before = count();
          const results = await Promise.all(
            Array.from({ length: 10 }, () => fetchMultipart(`${gw.base}/studies/${target?.uid}`)),
          );
          for (const r of results)
            expect(r.parts.length).toBe(instances.filter((i) => i.study.uid === target?.uid).length);
          await new Promise((r) => setTimeout(r, 200)); // let dcmqrscp flush its log
          expect(count() - before).toBe(1);
          // Complete now: served from the cache, the PACS is not asked again.
          await fetchMultipart(`${gw.base}/studies/${target?.uid}`);
          await new Promise((r) => setTimeout(r, 200));
          expect(count() - before).toBe(1);
        });
      }
    },
  );
}
