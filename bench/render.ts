/**
 * Render benchmark (issue 5): a 512×512 16-bit CT frame, uncompressed and JPEG 2000 (lossless), in Orthanc.
 * Side by side in one run, rendered to JPEG:
 *   - Orthanc's own /dicom-web/…/rendered (uncompressed only: Orthanc 1.10 cannot decode JPEG 2000 without its
 *     GDCM plugin),
 *   - the gateway cold (both render caches disabled: every request reads and decodes the frame from the cached
 *     instance, runs the pipeline and encodes),
 *   - the gateway warm (rendered cache), and a warm thumbnail;
 * with 1 client (p50/p95) and 8 concurrent clients (requests/s, p50/p95), and the gateway's responsiveness while
 * 8 clients render JPEG 2000 frames: the latency of /healthz asked every 5 ms (its p99 bounds the event-loop lag).
 */
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { startGateway, type GatewayProcess } from './gateway-process.js';
import { run } from '../devkit/processes.js';
import { Dataset } from '../src/dicom/dataset.js';
import { encodePart10File } from '../src/dicom/part10.js';
import { tag, Tags } from '../src/dicom/tag.js';
import { uidFromLabel } from '../src/dicom/uid.js';
import { get, sequential, parallel, summarise, type Summary } from './stats.js';
import { barChart, ms, ratio, target, type SuiteResult } from './report.js';

const SEQUENTIAL = 300;
const CLIENTS = 8;
const PER_CLIENT = 150;
const CT = '1.2.840.10008.5.1.4.1.1.2';
const study = uidFromLabel('bench/render/study');
const series = uidFromLabel('bench/render/series');

/** A 512×512 CT slice: signed 16-bit, rescale -1024, a body with bone, lungs and texture. */
function ctFile(sop: string): Buffer {
  const size = 512;
  const px = Buffer.alloc(size * size * 2);
  let seed = 12345;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = (x - 256) / 230;
      const dy = (y - 256) / 190;
      const r = Math.hypot(dx, dy);
      let hu = -1000;
      if (r <= 1)
        hu =
          r > 0.92
            ? 800
            : Math.hypot(dx + 0.4, dy) < 0.3 || Math.hypot(dx - 0.4, dy) < 0.3
              ? -820
              : 40 + 25 * Math.sin(x / 9) * Math.cos(y / 13);
      px.writeInt16LE(Math.round(hu + (rnd() - 0.5) * 30) + 1024, (y * size + x) * 2);
    }
  }
  const ds = new Dataset()
    .setText(Tags.SOPClassUID, CT, 'UI')
    .setText(Tags.SOPInstanceUID, sop, 'UI')
    .setText(tag(0x0008, 0x0060), 'CT', 'CS')
    .setText(Tags.PatientName, 'Bench^Render')
    .setText(Tags.PatientID, 'BENCH-RENDER')
    .setText(Tags.StudyInstanceUID, study, 'UI')
    .setText(Tags.SeriesInstanceUID, series, 'UI')
    .setUint16(Tags.SamplesPerPixel, 1)
    .setText(Tags.PhotometricInterpretation, 'MONOCHROME2', 'CS')
    .setUint16(Tags.Rows, size)
    .setUint16(Tags.Columns, size)
    .setUint16(Tags.BitsAllocated, 16)
    .setUint16(Tags.BitsStored, 16)
    .setUint16(Tags.HighBit, 15)
    .setUint16(Tags.PixelRepresentation, 1)
    .setText(tag(0x0028, 0x1050), '40', 'DS')
    .setText(tag(0x0028, 0x1051), '400', 'DS')
    .setText(tag(0x0028, 0x1052), '-1024', 'DS')
    .setText(tag(0x0028, 0x1053), '1', 'DS')
    .set({ tag: Tags.PixelData, vr: 'OW', bytes: px });
  return encodePart10File(ds, { sopClassUid: CT, sopInstanceUid: sop });
}

interface Figures {
  single: Summary;
  parallel: Summary & { rps: number };
}

async function measure(url: string, headers: Record<string, string> = {}): Promise<Figures> {
  const check = await get(url, headers);
  if (check.status !== 200) throw new Error(`${url}: HTTP ${check.status}`);
  const single = summarise(await sequential(SEQUENTIAL, () => get(url, headers)));
  const p = await parallel(CLIENTS, PER_CLIENT, () => get(url, headers));
  return { single, parallel: { ...summarise(p.latencies), rps: p.rps } };
}

/** A gateway in front of Orthanc with these render settings, its cache holding the two instances once retrieved. */
async function renderGateway(
  work: string,
  name: 'cold' | 'warm',
  pacs: TestPacs,
  dimsePort: number,
  render: string,
): Promise<GatewayProcess & { healthz: string }> {
  const gateway = await startGateway(work, name, {
    pacs,
    dimsePort,
    aeTitle: name === 'cold' ? 'DWCOLD' : 'DWWARM',
    cacheMaxBytes: '1GiB',
    yaml: `render: ${render}`,
  });
  return { ...gateway, healthz: `http://127.0.0.1:${gateway.httpPort}/healthz` };
}

/** /healthz latencies every 5 ms while `load` runs. */
async function responsiveness(healthz: string, load: () => Promise<unknown>): Promise<Summary> {
  let running = true;
  const samples: number[] = [];
  const probe = (async () => {
    while (running) {
      const t = performance.now();
      await get(healthz);
      samples.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await load();
  running = false;
  await probe;
  return summarise(samples);
}

export async function runRenderBench(): Promise<SuiteResult> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'dwg-renderbench-'));
  const rawSop = uidFromLabel('bench/render/raw');
  const j2kSop = uidFromLabel('bench/render/j2k');
  writeFileSync(path.join(work, 'raw.dcm'), ctFile(rawSop));
  writeFileSync(path.join(work, 'j2k-source.dcm'), ctFile(j2kSop));
  await run('gdcmconv', ['-K', path.join(work, 'j2k-source.dcm'), path.join(work, 'j2k.dcm')]);
  const coldPort = await freePort();
  const warmPort = await freePort();
  const pacs = await startOrthanc({
    loadFixtures: false,
    moveDestination: { aeTitle: 'DWCOLD', host: '127.0.0.1', port: coldPort },
    moreDestinations: [{ aeTitle: 'DWWARM', host: '127.0.0.1', port: warmPort }],
  });
  const gateways: GatewayProcess[] = [];
  try {
    for (const f of ['raw.dcm', 'j2k.dcm']) {
      const r = await fetch(`http://127.0.0.1:${pacs.httpPort}/instances`, {
        method: 'POST',
        body: readFileSync(path.join(work, f)),
      });
      if (!r.ok) throw new Error(`Orthanc refused ${f}`);
    }
    const instance = (sop: string): string => `/studies/${study}/series/${series}/instances/${sop}`;
    const jpeg = { accept: 'image/jpeg' };

    const orthanc = await measure(`http://127.0.0.1:${pacs.httpPort}/dicom-web${instance(rawSop)}/rendered`, jpeg);

    const cold = await renderGateway(work, 'cold', pacs, coldPort, '{ renderedCacheBytes: 1, frameCacheBytes: 1 }');
    gateways.push(cold);
    const coldRaw = await measure(`${cold.base}${instance(rawSop)}/rendered`, jpeg);
    const coldJ2k = await measure(`${cold.base}${instance(j2kSop)}/rendered`, jpeg);
    const lag = await responsiveness(cold.healthz, () =>
      parallel(CLIENTS, 40, () => get(`${cold.base}${instance(j2kSop)}/rendered`, jpeg)),
    );
    await cold.stop();

    const warm = await renderGateway(work, 'warm', pacs, warmPort, '{}');
    gateways.push(warm);
    const warmRaw = await measure(`${warm.base}${instance(rawSop)}/rendered`, jpeg);
    const warmJ2k = await measure(`${warm.base}${instance(j2kSop)}/rendered`, jpeg);
    const thumb = await measure(`${warm.base}${instance(rawSop)}/thumbnail`, jpeg);

    const sides: [string, Figures][] = [
      ["Orthanc's /rendered, uncompressed", orthanc],
      ['gateway cold, uncompressed', coldRaw],
      ['gateway cold, JPEG 2000', coldJ2k],
      ['gateway warm (rendered cache), uncompressed', warmRaw],
      ['gateway warm, JPEG 2000', warmJ2k],
      ['gateway thumbnail, warm', thumb],
    ];
    return {
      suite: 'render',
      title: 'Rendered images',
      setup: `A 512×512 16-bit CT frame, uncompressed and JPEG 2000 lossless, rendered to JPEG: by Orthanc's own \`/rendered\` (uncompressed only: Orthanc 1.10 cannot decode JPEG 2000 without its GDCM plugin), by the gateway cold (both render caches off: every request decodes the cached instance, runs the PS3.4 pipeline and encodes) and warm (rendered cache), and a warm thumbnail. 1 client (${SEQUENTIAL} requests), then ${CLIENTS} concurrent clients × ${PER_CLIENT}; and \`/healthz\` asked every 5 ms while ${CLIENTS} clients render JPEG 2000 cold (its latency bounds the event-loop lag).`,
      tables: [
        {
          title: 'Render to JPEG',
          columns: [
            '',
            '1 client p50',
            '1 client p95',
            `${CLIENTS} clients req/s`,
            `${CLIENTS} clients p50`,
            `${CLIENTS} clients p95`,
          ],
          rows: sides.map(([name, f]) => [
            name,
            ms(f.single.p50),
            ms(f.single.p95),
            f.parallel.rps.toFixed(0),
            ms(f.parallel.p50),
            ms(f.parallel.p95),
          ]),
          note: `\`/healthz\` while ${CLIENTS} clients render JPEG 2000 cold: p50 ${ms(lag.p50)}, p95 ${ms(lag.p95)} (${lag.n} probes).`,
        },
      ],
      targets: [
        target(
          'cold p50 / Orthanc p50',
          ratio(coldRaw.single.p50 / orthanc.single.p50),
          '≤ 1.5×',
          coldRaw.single.p50 <= 1.5 * orthanc.single.p50,
        ),
        target(
          'cold throughput / Orthanc',
          ratio(coldRaw.parallel.rps / orthanc.parallel.rps),
          '≥ 1×',
          coldRaw.parallel.rps >= orthanc.parallel.rps,
        ),
        target(
          'warm throughput / Orthanc',
          ratio(warmRaw.parallel.rps / orthanc.parallel.rps),
          '≥ 4×',
          warmRaw.parallel.rps >= 4 * orthanc.parallel.rps,
        ),
        target('thumbnail warm p50', ms(thumb.single.p50), '≤ 2 ms', thumb.single.p50 <= 2),
        target('/healthz p95 under JPEG 2000 load (event-loop lag)', ms(lag.p95), '< 20 ms', lag.p95 < 20),
      ],
      charts: [
        barChart(
          'latency',
          'Render to JPEG, latency by percentile (ms)',
          'milliseconds',
          sides.flatMap(([name, f]) => [
            { group: '1 client, p50', series: name, value: f.single.p50 },
            { group: '1 client, p95', series: name, value: f.single.p95 },
            { group: `${CLIENTS} clients, p50`, series: name, value: f.parallel.p50 },
            { group: `${CLIENTS} clients, p95`, series: name, value: f.parallel.p95 },
          ]),
        ),
        barChart(
          'throughput',
          `Render to JPEG, requests per second with ${CLIENTS} clients`,
          'requests per second',
          sides.map(([name, f]) => ({ group: name, series: name, value: f.parallel.rps })),
        ),
      ],
    };
  } finally {
    for (const g of gateways) await g.stop();
    await pacs.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
