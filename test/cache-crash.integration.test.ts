/**
 * Crash consistency of the retrieval cache (issue 13): its files are renamed into place without a sync each, and a
 * scope is recorded complete only after its files are synced. The gateway (a process of its own, in front of
 * dcmqrscp by C-MOVE) is killed with SIGKILL at several points of a series retrieval, then started again with
 * the PACS gone: a series is served whole (every instance, each as sent) or not at all — never as complete when
 * it is not — and a file cut short (what a power cut may leave of an unsynced one) is never served.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, existsSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { freePort, waitForPort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { IMAGING_FIXTURES } from '../src/samples/imaging.js';
import { encodePart10File } from '../src/dicom/part10.js';
import { Tags } from '../src/dicom/tag.js';
import { fetchMultipart } from './harness/multipart.js';
import { metaEnd } from './harness/variants.js';

const INSTANCES = 60;
const STUDY = '1.2.826.0.1.3680043.99.11';
const SERIES = '1.2.826.0.1.3680043.99.11.1';
const uidOf = (n: number): string => `1.2.826.0.1.3680043.99.11.1.${n}`;

/** A series of INSTANCES CT images (256×256, 16-bit), as files. */
function seriesFiles(): { files: string[]; sent: Map<string, Buffer> } {
  const ct = IMAGING_FIXTURES.find((f) => f.key === 'ct-signed');
  if (!ct) throw new Error('fixtures changed');
  const dir = tempDir('crash-series');
  const sent = new Map<string, Buffer>();
  const files = Array.from({ length: INSTANCES }, (_, n) => {
    const uid = uidOf(n + 1);
    const ds = ct
      .build()
      .setText(Tags.SOPInstanceUID, uid, 'UI')
      .setText(Tags.StudyInstanceUID, STUDY, 'UI')
      .setText(Tags.SeriesInstanceUID, SERIES, 'UI')
      .setText(0x00200013, String(n + 1), 'IS');
    const bytes = encodePart10File(ds, { sopClassUid: ct.sopClassUid, sopInstanceUid: uid });
    const file = path.join(dir, `${n + 1}.dcm`);
    writeFileSync(file, bytes);
    sent.set(uid, bytes);
    return file;
  });
  return { files, sent };
}

interface Running {
  child: ChildProcess;
  base: string;
  exited: Promise<void>;
}

describe('retrieval cache, killed mid-retrieval', () => {
  let pacs: TestPacs;
  let sent: Map<string, Buffer>;
  let dimsePort: number;
  beforeAll(async () => {
    dimsePort = await freePort();
    const series = seriesFiles();
    sent = series.sent;
    pacs = await startDcmqrscp({
      files: series.files,
      moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
    });
  });
  afterAll(async () => {
    await pacs?.stop();
  });

  async function gateway(cacheDir: string, pacsPort: number): Promise<Running> {
    const httpPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
      env: {
        ...process.env,
        DICOMWEB_HTTP_HOST: '127.0.0.1',
        DICOMWEB_HTTP_PORT: String(httpPort),
        DICOMWEB_DIMSE_PORT: String(dimsePort),
        DICOMWEB_AUTH_MODE: 'none',
        DICOMWEB_PACS_AE_TITLE: pacs.aeTitle,
        DICOMWEB_PACS_HOST: '127.0.0.1',
        DICOMWEB_PACS_PORT: String(pacsPort),
        DICOMWEB_PACS_CONNECT_TIMEOUT_MS: '1000',
        DICOMWEB_CACHE_DIR: cacheDir,
        DICOMWEB_LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitForPort(httpPort);
    await waitForPort(dimsePort);
    return { child, base: `http://127.0.0.1:${httpPort}/dicomweb`, exited };
  }

  const cachedFiles = (cacheDir: string): string[] => {
    const root = path.join(cacheDir, 'instances');
    if (!existsSync(root)) return [];
    return readdirSync(root).flatMap((shard) =>
      readdirSync(path.join(root, shard)).map((f) => path.join(root, shard, f)),
    );
  };

  /** After the restart, with the PACS unreachable: the series whole or refused; each instance whole or refused. */
  async function checkServed(base: string): Promise<{ series: 'whole' | 'refused'; instances: number }> {
    const whole = (uid: string, part: Buffer): boolean => {
      const original = sent.get(uid) as Buffer;
      return part.subarray(metaEnd(part)).equals(original.subarray(metaEnd(original)));
    };
    const series = await fetchMultipart(`${base}/studies/${STUDY}/series/${SERIES}`, {
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    let verdict: 'whole' | 'refused' = 'refused';
    if (series.status === 200) {
      expect(series.parts).toHaveLength(INSTANCES); // served as complete: then it is
      verdict = 'whole';
    } else {
      expect(series.status).toBeGreaterThanOrEqual(502);
    }
    let served = 0;
    for (let n = 1; n <= INSTANCES; n++) {
      const one = await fetchMultipart(`${base}/studies/${STUDY}/series/${SERIES}/instances/${uidOf(n)}`, {
        headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      });
      if (one.status !== 200) continue;
      expect(whole(uidOf(n), one.parts[0]?.body as Buffer), `instance ${n}`).toBe(true);
      served++;
    }
    if (verdict === 'whole') expect(served).toBe(INSTANCES);
    return { series: verdict, instances: served };
  }

  it.each([
    ['after the first instance', 1],
    ['half-way', INSTANCES / 2],
    ['once the retrieval has answered', INSTANCES + 1],
  ])(
    "SIGKILL %s, then a power cut's damage to one unsynced file: never served as complete, never cut short",
    async (_when, killAt) => {
      const cacheDir = tempDir('crash-cache');
      const first = await gateway(cacheDir, pacs.port);
      const retrieval = fetchMultipart(`${first.base}/studies/${STUDY}/series/${SERIES}`, {
        headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      }).catch(() => undefined);
      if (killAt > INSTANCES) {
        const answer = await retrieval;
        expect(answer?.parts).toHaveLength(INSTANCES);
      } else {
        while (cachedFiles(cacheDir).length < killAt) await new Promise((r) => setTimeout(r, 2));
      }
      first.child.kill('SIGKILL');
      await first.exited;
      await retrieval;
      const files = cachedFiles(cacheDir);
      expect(files.length).toBeGreaterThanOrEqual(Math.min(killAt, INSTANCES));

      // Was the series recorded complete before the kill? Then its files were synced first and a power cut cannot
      // cut them. Otherwise it may leave an unsynced file short: cut the newest one.
      const index = new Database(path.join(cacheDir, 'cache-index.sqlite'), { readonly: true });
      const recorded = index.prepare('SELECT 1 FROM complete_series WHERE series = ?').get(SERIES) !== undefined;
      index.close();
      let cutUid: string | undefined;
      if (!recorded) {
        const newest = files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] as string;
        cutUid = path.basename(newest, '.dcm');
        truncateSync(newest, Math.floor(statSync(newest).size / 2));
      }

      const unreachable = await freePort(); // the PACS is gone: only the cache answers
      const second = await gateway(cacheDir, unreachable);
      try {
        const served = await checkServed(second.base);
        expect(served.series).toBe(recorded ? 'whole' : 'refused');
        if (cutUid) {
          const cut = await fetchMultipart(`${second.base}/studies/${STUDY}/series/${SERIES}/instances/${cutUid}`, {
            headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
          });
          expect(cut.status).not.toBe(200); // dropped at start: found short
          expect(served.instances).toBeLessThan(files.length);
        }
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    },
    120_000,
  );
});
