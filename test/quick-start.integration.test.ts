/**
 * The README's first command (issue 12): `npm start` in a clean copy of the repository — the embedded archive
 * under ./data seeded with the sample studies on first start, what to try printed, and every printed line
 * working; a modality's storescu is then found; Ctrl-C stops it, leaving nothing running; a port in use is one
 * line naming the variable to change. (`npm ci` itself, and its `prepare` build, run in CI's own clean clone.)
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { QUICK_START_DEFAULTS } from '../src/quick-start.js';
import { loadConfig } from '../src/config/load.js';
import { allStudies } from '../src/samples/catalog.js';
import { IMAGING_FIXTURES, imagingFile } from '../src/samples/imaging.js';
import { freePort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { run } from '../devkit/processes.js';
import { cleanCopy } from './harness/clean-copy.js';

interface NpmStart {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start` in its own process group, as a terminal runs it (Ctrl-C reaches npm and the gateway alike). */
function npmStart(cwd: string, env: NodeJS.ProcessEnv): NpmStart {
  const child = spawn('npm', ['start'], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until(what: string, ready: () => boolean, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!ready()) {
    if (done) throw new Error(`exited before ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Processes whose working directory is under `dir` (what npm start left running there). */
function processesIn(dir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readlinkSync(`/proc/${p}/cwd`).startsWith(dir);
      } catch {
        return false; // gone meanwhile, or not ours to read
      }
    })
    .map(Number);
}

const listens = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

const printed = (stdout: string, label: string): string => {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith(label)) ?? '';
  return /'([^']+)'/.exec(line)?.[1] ?? line.trim().split(/\s+/)[1] ?? '';
};

describe("npm start (the README's first command)", () => {
  const running: NpmStart[] = [];
  afterAll(async () => {
    for (const r of running) {
      try {
        if (r.child.pid) process.kill(-r.child.pid, 'SIGKILL');
      } catch {
        // the group has ended
      }
    }
  });

  it('defaults to the embedded archive under ./data on 127.0.0.1:8080/dicomweb, DICOMWEB on 11112, no credentials', () => {
    const config = loadConfig({ env: {}, defaults: QUICK_START_DEFAULTS });
    expect({
      host: config.http.host,
      port: config.http.port,
      base: config.http.basePath,
      backend: config.backend,
      dir: config.archive?.dir,
      ae: config.dimse.aeTitle,
      dimse: config.dimse.port,
      auth: config.auth.mode,
    }).toEqual({
      host: '127.0.0.1',
      port: 8080,
      base: '/dicomweb',
      backend: 'embedded',
      dir: './data/archive',
      ae: 'DICOMWEB',
      dimse: 11112,
      auth: 'none',
    });
  });

  it('in a clean copy: seeds the samples, prints what to try (each works), takes a storescu, stops on Ctrl-C', async () => {
    const dir = await cleanCopy('quick-start');
    const [http, dimse] = [await freePort(), await freePort()];
    const start = npmStart(dir, { DICOMWEB_HTTP_PORT: String(http), DICOMWEB_DIMSE_PORT: String(dimse) });
    running.push(start);
    await until('printing what to try', () => start.stdout().includes('Stop: Ctrl-C.'), start.exited);
    const out = start.stdout();
    expect(out).toMatch(/seeded now with \d+ sample instances/);

    const page = await fetch(printed(out, 'Browse'));
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await page.text()).toContain('<meta name="dicomweb-base" content="/dicomweb">');
    const studies = await fetch(printed(out, 'Search').replace('?PatientName=doe*', ''));
    expect(studies.status).toBe(200);
    expect(((await studies.json()) as unknown[]).length).toBe(allStudies().length + 1); // the patients' studies and the rendering phantoms

    const image = await fetch(printed(out, 'An image'));
    expect([image.status, image.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
    expect(await sharp(Buffer.from(await image.arrayBuffer())).metadata()).toMatchObject({ width: 512, height: 512 });
    const thumbnail = await fetch(printed(out, 'Signed'));
    expect([thumbnail.status, thumbnail.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
    await thumbnail.arrayBuffer();
    expect(printed(out, 'Send')).toBe('storescu');

    // A modality sends an instance of a new study, as the printed line does.
    const file = path.join(tempDir('quick-start-send'), 'new.dcm');
    const source = IMAGING_FIXTURES.find((f) => f.kind === 'image');
    if (!source) throw new Error('no image fixture');
    writeFileSync(file, imagingFile(source));
    await run('dcmodify', ['-nb', '-gst', '-gse', '-gin', file]);
    await run('storescu', ['-aec', 'DICOMWEB', '127.0.0.1', String(dimse), file]);
    const { stdout: dump } = await run('dcmdump', ['+P', '0020,000d', file]);
    const studyUid = /\[([0-9.]+)\]/.exec(dump)?.[1];
    const found = await fetch(`http://127.0.0.1:${http}/dicomweb/studies?StudyInstanceUID=${studyUid}`);
    expect(((await found.json()) as unknown[]).length).toBe(1);

    // Ctrl-C (SIGINT to the terminal's process group): npm ends as a Ctrl-C ends it, nothing running, nothing listening.
    const ctrlC = async (r: NpmStart): Promise<void> => {
      if (!r.child.pid) throw new Error('no pid');
      process.kill(-r.child.pid, 'SIGINT');
      expect([0, 'SIGINT']).toContain((await r.exited).code ?? (await r.exited).signal);
      await until('every process of it ended', () => processesIn(dir).length === 0, new Promise(() => {}));
    };
    await ctrlC(start);
    expect([await listens(http), await listens(dimse)]).toEqual([false, false]);
    expect(readFileSync(path.join(dir, 'data', 'archive', '.samples-seeded'), 'utf8')).toMatch(/^\d{4}-/);

    // Started again: the same archive, not seeded twice.
    const again = npmStart(dir, { DICOMWEB_HTTP_PORT: String(http), DICOMWEB_DIMSE_PORT: String(dimse) });
    running.push(again);
    await until('printing what to try', () => again.stdout().includes('Stop: Ctrl-C.'), again.exited);
    expect(again.stdout()).not.toMatch(/seeded now/);
    const after = await fetch(`http://127.0.0.1:${http}/dicomweb/studies`);
    expect(((await after.json()) as unknown[]).length).toBe(allStudies().length + 2);

    // A second one on the same HTTP port: one line naming the variable, a non-zero exit.
    const busy = npmStart(dir, {
      DICOMWEB_HTTP_PORT: String(http),
      DICOMWEB_DIMSE_PORT: String(await freePort()),
      DICOMWEB_ARCHIVE_DIR: path.join(tempDir('quick-start-busy'), 'archive'),
    });
    running.push(busy);
    expect((await busy.exited).code).not.toBe(0);
    expect(
      busy
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('dicomweb-gateway:')),
    ).toEqual([
      `dicomweb-gateway: 127.0.0.1:${http} is already in use: set http.port (DICOMWEB_HTTP_PORT) to a free port`,
    ]);

    await ctrlC(again);
  }, 120_000);
});
