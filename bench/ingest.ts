/**
 * Ingest benchmark (issue 12): the same 500-instance CT study (512×512, 16-bit), in one run:
 *   - STOW-RS into the gateway's embedded archive (durable: each instance synced and indexed before it counts),
 *     in one request and in 8 parallel requests (sent by curl), against Orthanc's own STOW-RS (its DICOMweb
 *     plugin, as shipped);
 *   - `dicomweb-gateway import` of the folder into a new embedded archive, against DCMTK `storescu` into Orthanc.
 * Each into a new, empty archive. Instances/s, MB/s, and the peak RSS of the gateway and of the import process.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { startOrthanc } from '../devkit/pacs.js';
import { run, SHIPPED_ENV } from '../devkit/processes.js';
import { tempDir } from '../devkit/temp.js';
import { writeStudy } from './wado.js';
import { startGateway } from './gateway-process.js';
import { peakRssMb } from './stats.js';
import { barChart, mb, perSecond, ratio, seconds, target, type Cell, type SuiteResult } from './report.js';
import { cliNodeFlags } from '../devkit/cli-flags.js';

const BOUNDARY = 'dicomweb-gateway-bench-boundary';
const PARALLEL = 8;

/** A multipart/related body of these files, written once to a file (the client must not be what is measured). */
function multipartFile(files: readonly string[], file: string): string {
  const out = openSync(file, 'w');
  try {
    for (const f of files) {
      writeSync(out, Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`));
      writeSync(out, readFileSync(f));
      writeSync(out, Buffer.from('\r\n'));
    }
    writeSync(out, Buffer.from(`--${BOUNDARY}--\r\n`));
  } finally {
    closeSync(out);
  }
  return file;
}

/**
 * STOW-RS of the prepared bodies, all at once, by curl (which streams a file at ~2,500 instances/s into a sink
 * here; a Node client tops out near 450/s, below what is measured); seconds.
 */
async function stow(url: string, bodies: readonly string[]): Promise<number> {
  const started = performance.now();
  await Promise.all(
    bodies.map(async (body) => {
      const { stdout } = await run('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-X',
        'POST',
        '-T',
        body,
        '-H',
        `Content-Type: multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
        '-H',
        'Accept: application/dicom+json',
        url,
      ]);
      if (stdout !== '200') throw new Error(`STOW-RS ${url}: HTTP ${stdout}`);
    }),
  );
  return (performance.now() - started) / 1000;
}

/** `dicomweb-gateway import` into a new embedded archive; seconds and the process's peak RSS (polled). */
async function importFolder(dir: string, work: string): Promise<{ seconds: number; rssMb: number }> {
  const config = path.join(work, 'import.yaml');
  writeFileSync(
    config,
    `archive: { dir: ${path.join(work, 'imported')} }\ndimse: { minFreeBytes: 0 }\nlog: { level: error }\n`,
  );
  const started = performance.now();
  const child = spawn(process.execPath, [...cliNodeFlags(), 'dist/cli.js', 'import', dir, '--config', config], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  let rss = 0;
  const poll = setInterval(() => {
    try {
      const now = peakRssMb(child.pid as number);
      if (Number.isFinite(now)) rss = Math.max(rss, now); // a process that has exited has no VmHWM
    } catch {
      // exited
    }
  }, 50);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(poll);
  if (code !== 0) throw new Error(`import exited with ${code}`);
  return { seconds: (performance.now() - started) / 1000, rssMb: rss };
}

export async function runIngestBench(): Promise<SuiteResult> {
  const work = tempDir('ingestbench');
  const filesDir = path.join(work, 'files');
  mkdirSync(filesDir);
  writeStudy(filesDir);
  const ct = readdirSync(filesDir)
    .filter((f) => f.startsWith('ct'))
    .sort()
    .map((f) => path.join(filesDir, f));
  const ctDir = path.join(work, 'ct');
  mkdirSync(ctDir);
  for (const f of ct) await run('cp', [f, ctDir]);
  const bytes = ct.reduce((a, f) => a + statSync(f).size, 0);

  const bodies = {
    one: [multipartFile(ct, path.join(work, 'one.body'))],
    parallel: Array.from({ length: PARALLEL }, (_, i) =>
      multipartFile(
        ct.filter((_, n) => n % PARALLEL === i),
        path.join(work, `part${i}.body`),
      ),
    ),
  };
  const figures: Record<string, number> = {};
  let gatewayRss = 0;
  for (const name of ['one', 'parallel'] as const) {
    const gw = await startGateway(work, `stow-${name}`, { logLevel: 'error' });
    const orthanc = await startOrthanc({ loadFixtures: false });
    try {
      figures[`gateway-${name}`] = await stow(`http://127.0.0.1:${gw.httpPort}/dicomweb/studies`, bodies[name]);
      figures[`orthanc-${name}`] = await stow(`http://127.0.0.1:${orthanc.httpPort}/dicom-web/studies`, bodies[name]);
      gatewayRss = Math.max(gatewayRss, peakRssMb(gw.process.pid as number));
    } finally {
      await gw.stop();
      await orthanc.stop();
    }
  }
  const imported = await importFolder(ctDir, work);
  const orthanc = await startOrthanc({ loadFixtures: false });
  try {
    const started = performance.now();
    await run('storescu', ['-aec', orthanc.aeTitle, '127.0.0.1', String(orthanc.port), ...ct], { env: SHIPPED_ENV });
    figures['storescu-orthanc'] = (performance.now() - started) / 1000;
  } finally {
    await orthanc.stop();
  }

  const rate = (sec: number | undefined): Cell[] =>
    sec === undefined
      ? ['', '', '']
      : [perSecond(ct.length / sec, 'instances'), `${(bytes / 2 ** 20 / sec).toFixed(0)} MB/s`, seconds(sec)];
  const ratioOf = (a: string, b: string): number => (figures[b] ?? NaN) / (figures[a] ?? NaN);
  const importRatio = (figures['storescu-orthanc'] ?? NaN) / imported.seconds;
  return {
    suite: 'ingest',
    title: 'Ingest: STOW-RS and import',
    setup: `The same ${ct.length}-instance CT study (512×512, 16-bit, ${(bytes / 2 ** 20).toFixed(0)} MB), each time into a new, empty archive: STOW-RS into the gateway's embedded archive (durable: each instance synced and indexed before it counts) in one request and in ${PARALLEL} parallel requests, sent by curl from prepared bodies, against Orthanc's own STOW-RS (DICOMweb plugin, as shipped); and \`dicomweb-gateway import\` of the folder against DCMTK \`storescu\` into Orthanc as shipped.`,
    tables: [
      {
        title: 'Ingest',
        columns: ['', 'instances/s', 'MB/s', 'time'],
        rows: [
          ['STOW-RS, one request: gateway embedded archive (durable)', ...rate(figures['gateway-one'])],
          ["STOW-RS, one request: Orthanc's own", ...rate(figures['orthanc-one'])],
          [
            `STOW-RS, ${PARALLEL} parallel requests: gateway embedded archive (durable)`,
            ...rate(figures['gateway-parallel']),
          ],
          [`STOW-RS, ${PARALLEL} parallel requests: Orthanc's own`, ...rate(figures['orthanc-parallel'])],
          ['a folder: `dicomweb-gateway import` (durable)', ...rate(imported.seconds)],
          ['a folder: storescu into Orthanc (as shipped)', ...rate(figures['storescu-orthanc'])],
        ],
      },
    ],
    targets: [
      target(
        'STOW-RS gateway / Orthanc, one request',
        ratio(ratioOf('gateway-one', 'orthanc-one')),
        '≥ 3×',
        ratioOf('gateway-one', 'orthanc-one') >= 3,
      ),
      target(
        `STOW-RS gateway / Orthanc, ${PARALLEL} parallel`,
        ratio(ratioOf('gateway-parallel', 'orthanc-parallel')),
        '≥ 3×',
        ratioOf('gateway-parallel', 'orthanc-parallel') >= 3,
      ),
      target('import / storescu into Orthanc', ratio(importRatio), '> 1×', importRatio > 1),
      target('gateway peak RSS (both STOW runs)', mb(gatewayRss), '< 200 MB', gatewayRss < 200),
      target('import peak RSS', mb(imported.rssMb), '< 200 MB', imported.rssMb < 200),
    ],
    charts: [
      barChart('rate', `Ingest of ${ct.length} CT instances, instances per second`, 'instances per second', [
        {
          group: 'STOW-RS, one request',
          series: 'gateway (durable)',
          value: ct.length / (figures['gateway-one'] ?? NaN),
        },
        { group: 'STOW-RS, one request', series: 'Orthanc', value: ct.length / (figures['orthanc-one'] ?? NaN) },
        {
          group: `STOW-RS, ${PARALLEL} parallel requests`,
          series: 'gateway (durable)',
          value: ct.length / (figures['gateway-parallel'] ?? NaN),
        },
        {
          group: `STOW-RS, ${PARALLEL} parallel requests`,
          series: 'Orthanc',
          value: ct.length / (figures['orthanc-parallel'] ?? NaN),
        },
        { group: 'a folder (import / storescu)', series: 'gateway (durable)', value: ct.length / imported.seconds },
        {
          group: 'a folder (import / storescu)',
          series: 'Orthanc',
          value: ct.length / (figures['storescu-orthanc'] ?? NaN),
        },
      ]),
    ],
  };
}
