/**
 * Starting fails cleanly (issue 10 item 13): a port in use gives one line naming the key to change and a non-zero
 * exit, and whatever was started first (the Storage SCP, the demo's Orthanc) is stopped; Ctrl-C on the demo
 * leaves nothing behind in the temp directory.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { freePort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { run } from '../devkit/processes.js';

interface Exit { code: number | null; stdout: string; stderr: string }

/** Runs a TypeScript entry point with tsx; `until` lets the test act on its output (e.g. send SIGINT). */
function runEntry(entry: string, env: NodeJS.ProcessEnv, until?: (stdout: string, kill: (signal: NodeJS.Signals) => void) => void): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...(entry.endsWith('cli.ts') ? ['serve'] : [])], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); until?.(stdout, (s) => child.kill(s)); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function occupy(): Promise<{ port: number; close(): Promise<void> }> {
  const port = await freePort();
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const listens = (port: number): Promise<boolean> => new Promise((resolve) => {
  const socket = net.connect({ host: '127.0.0.1', port }, () => { socket.destroy(); resolve(true); });
  socket.once('error', () => resolve(false));
});

/** Processes whose command line mentions `text` (e.g. an Orthanc configuration under our temp directory). */
async function processesMentioning(text: string): Promise<string> {
  return run('pgrep', ['-af', text]).then((r) => r.stdout.trim(), () => '');
}

const serveEnv = async (): Promise<NodeJS.ProcessEnv> => ({
  DICOMWEB_HTTP_HOST: '127.0.0.1', DICOMWEB_HTTP_PORT: String(await freePort()), DICOMWEB_DIMSE_PORT: String(await freePort()),
  DICOMWEB_AUTH_MODE: 'none', DICOMWEB_CACHE_DIR: tempDir('start-cache'), DICOMWEB_ARCHIVE_DIR: tempDir('start-archive'), DICOMWEB_LOG_LEVEL: 'silent',
});

describe('start failures', () => {
  it.each([['http.port', 'DICOMWEB_HTTP_PORT'], ['dimse.port', 'DICOMWEB_DIMSE_PORT']] as const)('serve with %s in use: one line naming it, exit 2, nothing left listening', async (key, variable) => {
    const busy = await occupy();
    try {
      const env = { ...(await serveEnv()), [variable]: String(busy.port) };
      const exit = await runEntry('src/cli.ts', env);
      expect(exit.code).toBe(2);
      const lines = exit.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`127\\.0\\.0\\.1:${busy.port} is already in use: set ${key.replace('.', '\\.')} \\(${variable}\\)`));
      const other = variable === 'DICOMWEB_HTTP_PORT' ? env.DICOMWEB_DIMSE_PORT : env.DICOMWEB_HTTP_PORT;
      expect(await listens(Number(other))).toBe(false);
    } finally {
      await busy.close();
    }
  });

  it('the demo with its HTTP port in use: one line, a non-zero exit, its Orthanc stopped and its files removed', async () => {
    const busy = await occupy();
    const tmp = tempDir('demo-tmp');
    try {
      const exit = await runEntry('scripts/demo.ts', { ...(await serveEnv()), DICOMWEB_HTTP_PORT: String(busy.port), TMPDIR: tmp });
      expect(exit.code).not.toBe(0);
      expect(exit.stderr.trim().split('\n')).toEqual([expect.stringMatching(/is already in use: set http\.port \(DICOMWEB_HTTP_PORT\)/)]);
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
      if (!interrupted && stdout.includes('Gateway:')) { interrupted = true; kill('SIGINT'); }
    });
    expect(interrupted).toBe(true);
    expect(exit.code).toBe(0);
    expect(await processesMentioning(tmp)).toBe('');
    expect(readdirSync(tmp).filter((name) => name.startsWith('dwg-'))).toEqual([]); // tsx keeps a cache of its own there
  }, 120_000);
});
