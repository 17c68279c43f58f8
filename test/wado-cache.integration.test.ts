/**
 * WADO-RS cache and failure behaviour: eviction under a tiny byte budget, restart with a warm cache, an
 * instance request riding on a running study retrieval, 0xA801, a PACS that aborts mid-transfer or stalls.
 */
import { describe, it, expect, afterEach, vi } from 'vitest';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { startDcmqrscp, startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { fetchMultipart } from './harness/multipart.js';
import { startFakeScp, isFind } from './harness/fake-scp.js';
import { allInstances, PATIENTS } from '../src/samples/catalog.js';
import { CommandField } from '../src/dimse-bridge/command.js';
import { Status } from '../src/dicom/status.js';
import { Dataset } from '../src/dicom/dataset.js';
import { Tags } from '../src/dicom/tag.js';
import { writeDataset } from '../src/dicom/dataset-codec.js';
import { TransferSyntax } from '../src/dicom/transfer-syntax.js';
import { tempDir } from '../devkit/temp.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const instances = [...allInstances()];
const countRetrievals = (pacs: TestPacs): number =>
  (pacs.output().match(/Message Type\s*: C-(MOVE|GET) RQ/g) ?? []).length;
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

async function dcmqrscpWithGateway(overrides: Parameters<typeof startTestGateway>[1] = {}, withDestination = true) {
  const dimsePort = await freePort();
  const pacs = await startDcmqrscp({
    verbose: true,
    ...(withDestination ? { moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort } } : {}),
  });
  cleanups.push(() => pacs.stop());
  const gw = await startTestGateway(pacs, { ...overrides, dimse: { port: dimsePort, ...overrides.dimse } });
  cleanups.push(() => gw.close());
  return { pacs, gw, dimsePort };
}

describe('WADO-RS cache', () => {
  it('stays within a tiny cache.maxBytes, still answers completely, and retrieves evicted studies again', async () => {
    const { pacs, gw } = await dcmqrscpWithGateway({ cache: { maxBytes: 6000 } });
    const [a, b] = [PATIENTS[0]?.studies[0], PATIENTS[1]?.studies[0]];
    const expectA = instances.filter((i) => i.study.uid === a?.uid).length;
    const first = await fetchMultipart(`${gw.base}/studies/${a?.uid}`);
    expect(first.parts.length).toBe(expectA);
    await fetchMultipart(`${gw.base}/studies/${b?.uid}`);
    expect(gw.archive.cache.totalBytes).toBeLessThanOrEqual(6000);
    const before = countRetrievals(pacs);
    const again = await fetchMultipart(`${gw.base}/studies/${a?.uid}`);
    expect(again.parts.length).toBe(expectA);
    await settle();
    expect(countRetrievals(pacs) - before).toBe(1);
    expect(gw.archive.cache.totalBytes).toBeLessThanOrEqual(6000);
  });

  it('serves a complete study after a restart with the PACS gone', async () => {
    const cacheDir = tempDir('warm');
    const { gw, pacs } = await dcmqrscpWithGateway({ cache: { dir: cacheDir } });
    const s = PATIENTS[2]?.studies[0];
    const expected = instances.filter((i) => i.study.uid === s?.uid).length;
    expect((await fetchMultipart(`${gw.base}/studies/${s?.uid}`)).parts.length).toBe(expected);
    await gw.close();
    await pacs.stop();
    const restarted = await startTestGateway(
      { aeTitle: 'GONE', host: '127.0.0.1', port: await freePort() },
      { cache: { dir: cacheDir } },
    );
    cleanups.push(() => restarted.close());
    expect(restarted.archive.cache.size).toBeGreaterThanOrEqual(expected);
    const warm = await fetchMultipart(`${restarted.base}/studies/${s?.uid}`);
    expect(warm.status).toBe(200);
    expect(warm.parts.length).toBe(expected);
    const meta = await fetch(`${restarted.base}/studies/${s?.uid}/metadata`);
    expect(meta.status).toBe(200);
    // Study and series thumbnails choose their image from the cache too (they asked the PACS: 502).
    const series = instances.filter((i) => i.study.uid === s?.uid);
    const middle = series[Math.floor((series.length - 1) / 2)];
    for (const path of [
      `/studies/${s?.uid}/thumbnail`,
      `/studies/${s?.uid}/series/${series[0]?.series.uid}/thumbnail`,
    ]) {
      const thumb = await fetch(`${restarted.base}${path}`);
      expect(thumb.status, path).toBe(200);
      expect(thumb.headers.get('content-type')).toBe('image/jpeg');
      expect((await thumb.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    // The image the PACS's catalog would have chosen (the middle instance by Instance Number): the same JPEG as its own thumbnail.
    const own = await fetch(
      `${restarted.base}/studies/${s?.uid}/series/${middle?.series.uid}/instances/${middle?.uid}/thumbnail`,
    );
    const viaStudy = await fetch(`${restarted.base}/studies/${s?.uid}/thumbnail`);
    expect(own.status).toBe(200);
    expect(Buffer.from(await viaStudy.arrayBuffer()).equals(Buffer.from(await own.arrayBuffer()))).toBe(true);
  });

  it('streams metadata chunked while the PACS sends, and with Content-Length once the scope is cached complete (JSON and XML)', async () => {
    const { gw } = await dcmqrscpWithGateway();
    const s = PATIENTS[1]?.studies[0];
    const expected = instances.filter((i) => i.study.uid === s?.uid).length;
    const url = `${gw.base}/studies/${s?.uid}/metadata`;
    const cold = await fetch(url);
    const coldBody = (await cold.json()) as unknown[];
    expect(coldBody).toHaveLength(expected);
    expect(cold.headers.get('content-length')).toBeNull();
    await vi.waitFor(() => expect(gw.archive.holdsLocally({ study: s?.uid ?? '' })).toBe(true), { timeout: 5000 });
    const warm = await fetch(url);
    const warmBytes = Buffer.from(await warm.arrayBuffer());
    expect(Number(warm.headers.get('content-length'))).toBe(warmBytes.length);
    expect(JSON.parse(warmBytes.toString('utf8'))).toHaveLength(expected);
    const xml = await fetchMultipart(url, { headers: { accept: 'multipart/related; type="application/dicom+xml"' } });
    expect(xml.parts).toHaveLength(expected);
    expect(Number(xml.headers.get('content-length'))).toBeGreaterThan(0);
  });

  it('lets an instance request wait for the study retrieval already running instead of starting another', async () => {
    const { pacs, gw } = await dcmqrscpWithGateway();
    const s = PATIENTS[3]?.studies[0];
    const one = instances.find((i) => i.study.uid === s?.uid);
    const before = countRetrievals(pacs);
    const studyRequest = fetchMultipart(`${gw.base}/studies/${s?.uid}`);
    while (gw.archive.mediator.activeCount === 0) await new Promise((r) => setTimeout(r, 1));
    const instanceRequest = fetchMultipart(
      `${gw.base}/studies/${s?.uid}/series/${one?.series.uid}/instances/${one?.uid}`,
    );
    const [whole, single] = await Promise.all([studyRequest, instanceRequest]);
    expect(whole.parts.length).toBe(instances.filter((i) => i.study.uid === s?.uid).length);
    expect(single.parts.length).toBe(1);
    await settle();
    expect(countRetrievals(pacs) - before).toBe(1);
  });
});

describe('WADO-RS failures', () => {
  it('answers 502 telling the operator to register the gateway when the PACS does not know the move destination (0xA801)', async () => {
    const { gw, pacs } = await dcmqrscpWithGateway({}, false);
    const r = await fetch(`${gw.base}/studies/${PATIENTS[0]?.studies[0]?.uid}`);
    expect(r.status).toBe(502);
    const body = (await r.json()) as { dimseStatus: string; message: string };
    expect(body.dimseStatus).toBe('0xA801');
    expect(body.message).toMatch(/register AE title DICOMWEB, host .*, port \d+/);
    // dcmqrscp keeps its database locked after that C-MOVE while its association stays open, and a query on any
    // other association waits for the lock (the listing C-FIND of the next retrieval timed out: 504 instead of 502).
    // The gateway releases a failed retrieval's association instead of keeping it for reuse.
    const find = await run('findscu', [
      '-S',
      '-k',
      'QueryRetrieveLevel=STUDY',
      '-k',
      'StudyInstanceUID',
      '-td',
      '5',
      '-aec',
      pacs.aeTitle,
      pacs.host,
      String(pacs.port),
    ]);
    expect(`${find.stdout}${find.stderr}`).not.toMatch(/timeout|failed/i);
  });

  it('adds the registration hint when Orthanc, not knowing the move destination, answers 0xC000', async () => {
    const pacs = await startOrthanc(); // no DicomModalities entry for the gateway
    cleanups.push(() => pacs.stop());
    const gw = await startTestGateway(pacs);
    cleanups.push(() => gw.close());
    const r = await fetch(`${gw.base}/studies/${PATIENTS[0]?.studies[0]?.uid}`);
    expect(r.status).toBe(502);
    const body = (await r.json()) as { dimseStatus: string; message: string };
    expect(body.dimseStatus).toBe('0xC000');
    expect(body.message).toMatch(
      /before any instance arrived.*register AE title DICOMWEB, host 127\.0\.0\.1, port \d+ as a DICOM node/,
    );
  });

  /** A scripted PACS: answers the listing C-FINDs for one study of two CT instances; `onGet` plays the C-GET. */
  async function scriptedPacs(
    onGet: (send: (sop: string, chunks: AsyncIterable<Buffer>) => Promise<void>, abort: () => void) => void,
  ) {
    const studyUid = '1.2.826.0.1.3680043.77.1';
    const seriesUid = `${studyUid}.1`;
    const sops = [`${seriesUid}.1`, `${seriesUid}.2`];
    const encode = (ds: Dataset): Buffer => writeDataset(ds, { explicitVR: true, littleEndian: true });
    const scp = await startFakeScp((cmd, reply, association, identifier) => {
      if (isFind(cmd)) {
        void (async () => {
          if (identifier?.getString(Tags.QueryRetrieveLevel) === 'SERIES') {
            await reply(
              Status.Pending,
              {},
              encode(new Dataset().setText(Tags.StudyInstanceUID, studyUid).setText(Tags.SeriesInstanceUID, seriesUid)),
            );
          } else {
            for (const sop of sops)
              await reply(
                Status.Pending,
                {},
                encode(
                  new Dataset()
                    .setText(Tags.SOPInstanceUID, sop)
                    .setText(Tags.SOPClassUID, '1.2.840.10008.5.1.4.1.1.2'),
                ),
              );
          }
          await reply(Status.Success);
        })();
        return;
      }
      if (cmd.commandField === CommandField.CGetRQ) {
        const storage = [...association.acceptedContexts.values()].find(
          (pc) =>
            pc.abstractSyntax === '1.2.840.10008.5.1.4.1.1.2' &&
            pc.transferSyntax === TransferSyntax.ExplicitVRLittleEndian,
        );
        onGet(
          async (sop, chunks) => {
            await association.send(
              storage?.id ?? 1,
              {
                commandField: CommandField.CStoreRQ,
                hasDataset: true,
                messageId: 99,
                affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.2',
                affectedSopInstanceUid: sop,
                priority: 0,
              },
              chunks,
            );
          },
          () => association.abort(),
        );
      }
    });
    cleanups.push(() => scp.close());
    return { scp, studyUid, sops };
  }

  it('answers 502 and keeps nothing partial when the PACS aborts in the middle of sending an instance', async () => {
    const pacs = await scriptedPacs((send, abort) => {
      async function* half(): AsyncGenerator<Buffer> {
        yield writeDataset(new Dataset().setText(Tags.SOPInstanceUID, '1.2.826.0.1.3680043.77.1.1.1'), {
          explicitVR: true,
          littleEndian: true,
        });
        yield Buffer.alloc(50_000, 7);
        await new Promise((r) => setTimeout(r, 50));
        abort();
      }
      void send('1.2.826.0.1.3680043.77.1.1.1', half()).catch(() => {});
    });
    const gw = await startTestGateway(
      { aeTitle: 'FAKE', host: '127.0.0.1', port: pacs.scp.port },
      { pacs: { retrieve: 'get' } },
    );
    cleanups.push(() => gw.close());
    const r = await fetch(`${gw.base}/studies/${pacs.studyUid}`);
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: string }).error).toBe('DWG_PACS_ABORTED');
    expect(readdirSync(path.join(gw.config.cache.dir, 'incoming'))).toEqual([]);
    expect(gw.archive.cache.size).toBe(0);
    for (const sop of pacs.sops) expect(existsSync(gw.archive.cache.store.pathOf(sop))).toBe(false);
  });

  it('cancels a retrieval that makes no progress and answers 504', async () => {
    const pacs = await scriptedPacs(() => {
      /* accepts the C-GET, then nothing: no sub-operation, no response */
    });
    const gw = await startTestGateway(
      { aeTitle: 'FAKE', host: '127.0.0.1', port: pacs.scp.port },
      { pacs: { retrieve: 'get', retrieveTimeoutMs: 300 } },
    );
    cleanups.push(() => gw.close());
    const r = await fetch(`${gw.base}/studies/${pacs.studyUid}`);
    expect(r.status).toBe(504);
    expect(await r.json()).toMatchObject({ error: 'DWG_PACS_TIMEOUT', phase: 'retrieve' });
    expect(gw.archive.cache.completeScope({ study: pacs.studyUid })).toBeUndefined();
  });
});
