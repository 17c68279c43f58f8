/**
 * Starting fails cleanly (issue 10 item 13): a port in use gives one line naming the key to change and a non-zero
 * exit, and whatever was started first (the Storage SCP, the demo's Orthanc) is stopped; Ctrl-C on the demo
 * leaves nothing behind in the temp directory.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EmbeddedArchive } from '../src/backends/embedded/embedded-archive.js';
import { freePort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { run } from '../devkit/processes.js';

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a TypeScript entry point with tsx; `until` lets the test act on its output (e.g. send SIGINT). */
function runEntry(
  entry: string,
  env: NodeJS.ProcessEnv,
  until?: (stdout: string, kill: (signal: NodeJS.Signals) => void) => void,
): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...(entry.endsWith('cli.ts') ? ['serve'] : [])], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      until?.(stdout, (s) => child.kill(s));
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function occupy(): Promise<{ port: number; close(): Promise<void> }> {
  const port = await freePort();
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const listens = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Processes whose command line mentions `text` (e.g. an Orthanc configuration under our temp directory). */
async function processesMentioning(text: string): Promise<string> {
  return run('pgrep', ['-af', text]).then(
    (r) => r.stdout.trim(),
    () => '',
  );
}

const serveEnv = async (): Promise<NodeJS.ProcessEnv> => ({
  DICOMWEB_HTTP_HOST: '127.0.0.1',
  DICOMWEB_HTTP_PORT: String(await freePort()),
  DICOMWEB_DIMSE_PORT: String(await freePort()),
  DICOMWEB_AUTH_MODE: 'none',
  DICOMWEB_CACHE_DIR: tempDir('start-cache'),
  DICOMWEB_ARCHIVE_DIR: tempDir('start-archive'),
  DICOMWEB_LOG_LEVEL: 'silent',
});

describe('start failures', () => {
  it.each([
    ['http.port', 'DICOMWEB_HTTP_PORT'],
    ['dimse.port', 'DICOMWEB_DIMSE_PORT'],
  ] as const)('serve with %s in use: one line naming it, exit 2, nothing left listening', async (key, variable) => {
    const busy = await occupy();
    try {
      const env = { ...(await serveEnv()), [variable]: String(busy.port) };
      const exit = await runEntry('src/cli.ts', env);
      expect(exit.code).toBe(2);
      const lines = exit.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`127\\.0\\.0\\.1:${busy.port} is already in use: set ${key.replace('.', '\\.')} \\(${variable}\\)`),
      );
      const other = variable === 'DICOMWEB_HTTP_PORT' ? env.DICOMWEB_DIMSE_PORT : env.DICOMWEB_HTTP_PORT;
      expect(await listens(Number(other))).toBe(false);
    } finally {
      await busy.close();
    }
  });

  // Formats are numbered (PRAGMA user_version): a file of a newer version is refused, never rebuilt over.
  it.each([
    ['archive', 'DICOMWEB_ARCHIVE_DIR', 'index.sqlite', 'the archive index', /dicomweb-gateway reindex/],
    ['cache', 'DICOMWEB_CACHE_DIR', 'cache-index.sqlite', 'the cache index', /delete the cache directory/],
  ] as const)(
    'serve on a %s index of a newer format: one line saying so and what to do, exit 2, the file untouched',
    async (kind, variable, name, what, remedy) => {
      const { DICOMWEB_ARCHIVE_DIR, ...shared } = await serveEnv();
      // In front of a PACS (none listening: the cache is opened first) for the cache; on the archive for the other.
      const env: NodeJS.ProcessEnv =
        kind === 'cache'
          ? { ...shared, DICOMWEB_PACS_HOST: '127.0.0.1', DICOMWEB_PACS_PORT: String(await freePort()) }
          : { ...shared, DICOMWEB_ARCHIVE_DIR };
      const file = path.join(env[variable] ?? '', name);
      const db = new Database(file);
      db.pragma('user_version = 7');
      db.close();
      const exit = await runEntry('src/cli.ts', env);
      expect(exit.code).toBe(2);
      const lines = exit.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(
        `${what} ${file} has format 7, written by a newer dicomweb-gateway; this version reads formats up to 1.`,
      );
      expect(lines[0]).toMatch(remedy);
      const after = new Database(file, { readonly: true });
      expect(after.pragma('user_version', { simple: true })).toBe(7);
      after.close();
      expect(readdirSync(env[variable] ?? '').filter((f) => f.includes('damaged'))).toEqual([]);
    },
  );

  it('stamps a new index with its format, and takes one written before formats were numbered as format 1', async () => {
    const env = await serveEnv();
    const file = path.join(env.DICOMWEB_ARCHIVE_DIR ?? '', 'index.sqlite');
    const old = new Database(file);
    old.exec(
      'CREATE TABLE studies (study_uid TEXT PRIMARY KEY, date_time TEXT NOT NULL, first TEXT NOT NULL, json TEXT NOT NULL)',
    );
    old.close();
    const archive = await EmbeddedArchive.open({
      dir: env.DICOMWEB_ARCHIVE_DIR ?? '',
      duplicates: 'keep',
      minFreeBytes: 0,
      inlineBinaryMaxBytes: 1024,
    });
    await archive.close();
    const stamped = new Database(file, { readonly: true });
    expect(stamped.pragma('user_version', { simple: true })).toBe(1);
    stamped.close();
  });

  it('the demo with its HTTP port in use: one line, a non-zero exit, its Orthanc stopped and its files removed', async () => {
    const busy = await occupy();
    const tmp = tempDir('demo-tmp');
    try {
      const exit = await runEntry('scripts/demo.ts', {
        ...(await serveEnv()),
        DICOMWEB_HTTP_PORT: String(busy.port),
        TMPDIR: tmp,
      });
      expect(exit.code).not.toBe(0);
      expect(exit.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/is already in use: set http\.port \(DICOMWEB_HTTP_PORT\)/),
      ]);
      expect(await processesMentioning(tmp)).toBe('');
      expect(readdirSync(tmp).filter((name) => name.startsWith('dwg-'))).toEqual([]); // tsx keeps a cache of its own there
    } finally {
      await busy.close();
    }
  }, 120_000);

  it('the demo stopped with Ctrl-C: exit 0, Orthanc gone, nothing left in the temp directory', async () => {
    const tmp = tempDir('demo-tmp');
    let interrupted = false;
    const exit = await runEntry('scripts/demo.ts', { ...(await serveEnv()), TMPDIR: tmp }, (stdout, kill) => {
      if (!interrupted && stdout.includes('Gateway:')) {
        interrupted = true;
        kill('SIGINT');
      }
    });
    expect(interrupted).toBe(true);
    expect(exit.code).toBe(0);
    expect(await processesMentioning(tmp)).toBe('');
    expect(readdirSync(tmp).filter((name) => name.startsWith('dwg-'))).toEqual([]); // tsx keeps a cache of its own there
  }, 120_000);
});
