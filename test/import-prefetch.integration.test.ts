/**
 * Long work from the command line (issue 12): `dicomweb-gateway import` of a mixed folder into the embedded
 * archive and into Orthanc (found by its own API), and `prefetch` through a running gateway in front of dcmqrscp,
 * the PACS then going down: each failure is reported with its reason and the exit code says so.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeSamples } from '../src/samples/samples.js';
import { IMAGING_FIXTURES } from '../src/samples/imaging.js';
import { encodePart10File } from '../src/dicom/part10.js';
import { Tags } from '../src/dicom/tag.js';
import { allStudies, PATIENTS } from '../src/samples/catalog.js';
import { EmbeddedArchive } from '../src/backends/embedded/embedded-archive.js';
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { tempDir } from '../devkit/temp.js';
import { freePort } from '../devkit/ports.js';
import { gatewayInFrontOfDcmqrscp } from './harness/gateway.js';

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as an operator runs it, its output to pipes (so: plain progress lines). */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      env: { ...process.env, DICOMWEB_LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The samples, a text file and a truncated DICOM file in nested folders. */
function mixedFolder(): { dir: string; dicom: number; truncated: string } {
  const dir = tempDir('import-source');
  const dicom = writeSamples(path.join(dir, 'from-modality', 'nested'));
  writeFileSync(path.join(dir, 'README.txt'), 'not DICOM\n');
  const truncated = path.join(dir, 'truncated.dcm');
  const whole = readFileSync(path.join(dir, 'from-modality', 'nested', 'imaging', 'ct-signed.dcm'));
  // The same preamble and meta information as a real file, cut in the middle of its dataset; another UID.
  writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
  return { dir, dicom, truncated };
}

describe('dicomweb-gateway import', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('stores a mixed folder into the embedded archive: DICOM stored, the rest skipped and counted, a truncated file failed, exit 1', async () => {
    const { dir, dicom, truncated } = mixedFolder();
    const archiveDir = path.join(tempDir('import-archive'), 'archive');
    const exit = await cli(['import', dir, '--concurrency', '3'], { DICOMWEB_ARCHIVE_DIR: archiveDir });
    expect(exit.code).toBe(1);
    const summary = exit.stdout.split('\n')[0];
    expect(summary).toMatch(
      new RegExp(
        `^${dicom + 2} of ${dicom + 2} files \\(.+ MB\\) in .+ s into the embedded archive in ${archiveDir}: ${dicom} stored, 1 skipped \\(not DICOM Part 10\\), 1 failed$`,
      ),
    );
    expect(exit.stdout).toContain(`  failed ${truncated}: `);
    expect(exit.stderr).toMatch(/files {2}.* MB\/s {2}ETA/); // a plain progress line (not a terminal)
    const archive = await EmbeddedArchive.open({
      dir: archiveDir,
      duplicates: 'keep',
      minFreeBytes: 0,
      inlineBinaryMaxBytes: 1024,
    });
    try {
      expect(archive.index.instanceCount).toBe(dicom); // nothing of the truncated file
    } finally {
      await archive.close();
    }
    expect(existsSync(path.join(archiveDir, 'incoming')) ? readdirSync(path.join(archiveDir, 'incoming')) : []).toEqual(
      [],
    );
  });

  it('stores into the PACS by C-STORE (Orthanc holds them, by its own API), exit 0', async () => {
    const pacs: TestPacs = await startOrthanc({ loadFixtures: false });
    cleanups.push(() => pacs.stop());
    const dir = tempDir('import-pacs');
    const n = writeSamples(dir);
    const exit = await cli(['import', dir], {
      DICOMWEB_PACS_AE_TITLE: pacs.aeTitle,
      DICOMWEB_PACS_HOST: pacs.host,
      DICOMWEB_PACS_PORT: String(pacs.port),
      DICOMWEB_CACHE_DIR: tempDir('import-cache'),
    });
    expect([exit.code, exit.stdout.split('\n')[0]]).toEqual([
      0,
      expect.stringMatching(
        new RegExp(`into the PACS ORTHANC@127\\.0\\.0\\.1:${pacs.port}: ${n} stored, 0 skipped .*, 0 failed$`),
      ),
    ]);
    const stats = (await (await fetch(`http://127.0.0.1:${pacs.httpPort}/statistics`)).json()) as {
      CountInstances: number;
    };
    expect(stats.CountInstances).toBe(n);
  });

  it('stops on Ctrl-C: the files being stored finish, none is stored in half, the summary says how far it got, exit 130', async () => {
    const dir = tempDir('import-many');
    const ct = IMAGING_FIXTURES.find((f) => f.key === 'ct-signed');
    if (!ct) throw new Error('fixtures changed');
    for (let n = 0; n < 400; n++) {
      const uid = `1.2.826.0.1.3680043.99.9.${n}`;
      writeFileSync(
        path.join(dir, `${n}.dcm`),
        encodePart10File(ct.build().setText(Tags.SOPInstanceUID, uid, 'UI'), {
          sopClassUid: ct.sopClassUid,
          sopInstanceUid: uid,
        }),
      );
    }
    const archiveDir = path.join(tempDir('import-stopped'), 'archive');
    const exit = await new Promise<Exit>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'import', dir], {
        env: { ...process.env, DICOMWEB_LOG_LEVEL: 'silent', DICOMWEB_ARCHIVE_DIR: archiveDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (/^0\/400 files/m.test(stderr) && !child.killed) child.kill('SIGINT'); // as soon as it has started
      });
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(exit.code).toBe(130);
    const stored = Number(/^stopped: (\d+) of 400 files .*: (\d+) stored/.exec(exit.stdout)?.[2]);
    expect(stored).toBeLessThan(400);
    const archive = await EmbeddedArchive.open({
      dir: archiveDir,
      duplicates: 'keep',
      minFreeBytes: 0,
      inlineBinaryMaxBytes: 1024,
    });
    try {
      expect(archive.index.instanceCount).toBe(stored); // what it says it stored, and nothing else
    } finally {
      await archive.close();
    }
    expect(readdirSync(path.join(archiveDir, 'incoming'))).toEqual([]);
  });

  it('refuses what it cannot do before starting: a path that does not exist, a bad --concurrency', async () => {
    expect((await cli(['import', '/nonexistent/dir'], {})).stderr.trim()).toBe(
      'dicomweb-gateway: import: /nonexistent/dir does not exist',
    );
    expect((await cli(['import', '.', '--concurrency', '0'], {})).code).toBe(2);
  });
});

describe('dicomweb-gateway prefetch', () => {
  it("fills the running gateway's cache (named studies and a query); with the PACS gone, what it cannot fetch is reported, exit 1", async () => {
    const { pacs, gw } = await gatewayInFrontOfDcmqrscp();
    try {
      const env = {
        DICOMWEB_HTTP_HOST: '127.0.0.1',
        DICOMWEB_HTTP_PORT: String(new URL(gw.httpUrl).port),
        DICOMWEB_AUTH_MODE: 'none',
        DICOMWEB_ARCHIVE_DIR: path.join(tempDir('prefetch-unused'), 'a'),
      };
      const doe = PATIENTS.find((p) => p.id === 'PAT-ASCII-1');
      const [first, second] = doe?.studies ?? [];
      const other = allStudies().find((s) => s.patient.id !== 'PAT-ASCII-1')?.study;
      if (!first || !second || !other) throw new Error('fixtures changed');
      const scope = (uid: string): boolean => gw.archive.holdsLocally({ study: uid });
      expect([scope(first.uid), scope(second.uid)]).toEqual([false, false]);

      const byQuery = await cli(['prefetch', '--from-query', 'PatientID=PAT-ASCII-1'], env);
      expect(byQuery.code).toBe(0);
      const instances = doe?.studies.flatMap((s) => s.series).reduce((n, s) => n + s.instances, 0);
      expect(byQuery.stdout).toMatch(new RegExp(`prefetched 2 of 2 studies \\(${instances} instances, .* MB\\)`));
      // A study's answer ends with its last instance; the cache records it complete once its files are synced,
      // just after (a request meanwhile joins the retrieval): wait for that record, not for a time.
      await gw.archive.mediator.settled();
      expect([scope(first.uid), scope(second.uid)]).toEqual([true, true]);

      await pacs.stop(); // the PACS goes down: what the cache holds is still served, the rest fails
      const mixed = await cli(['prefetch', first.uid, other.uid], env);
      expect(mixed.code).toBe(1);
      expect(mixed.stdout).toContain(`study ${first.uid}: `);
      expect(mixed.stdout).toMatch(/prefetched 1 of 2 studies .*; 1 failed/);
      expect(mixed.stdout).toMatch(new RegExp(`  failed ${other.uid.replace(/\./g, '\\.')}: 50[234] DWG_PACS_`));
    } finally {
      await gw.close();
      await pacs.stop();
    }
  });

  it('says in one line when no gateway answers', async () => {
    const port = await freePort();
    const exit = await cli(['prefetch', '1.2.3'], {
      DICOMWEB_HTTP_HOST: '127.0.0.1',
      DICOMWEB_HTTP_PORT: String(port),
      DICOMWEB_AUTH_MODE: 'none',
    });
    expect(exit.code).toBe(1);
    expect(exit.stderr.trim().split('\n')).toEqual([
      `dicomweb-gateway: prefetch: cannot list the studies at http://127.0.0.1:${port}/dicomweb: fetch failed (ECONNREFUSED)`,
    ]);
  });
});
