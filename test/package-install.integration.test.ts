/**
 * The release path of docs/deploy.md: `npm pack` makes the tarball (only what runs: no tests, benchmarks or
 * dev kit), and `npm install -g ./dicomweb-gateway-<version>.tgz` into a fresh prefix gives a command whose
 * `start` serves the sample studies. Dependencies come from the npm cache `npm ci` filled; better-sqlite3's
 * compiled module from a local prebuilt-binary mirror (as an offline site provides one; npm_config_*_binary_host),
 * here the one this checkout built, so the test does not compile it again.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { run } from '../devkit/processes.js';
import { freePort } from '../devkit/ports.js';
import { tempDir } from '../devkit/temp.js';
import { cleanCopy } from './harness/clean-copy.js';

const repo = path.resolve(import.meta.dirname, '..');

/** A prebuilt-binary mirror serving this checkout's better-sqlite3 module, as prebuild-install fetches it. */
async function prebuiltMirror(): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const dir = tempDir('prebuilt');
  const tarball = path.join(dir, 'prebuilt.tar.gz');
  await run('tar', [
    '-czf',
    tarball,
    '-C',
    path.join(repo, 'node_modules', 'better-sqlite3'),
    'build/Release/better_sqlite3.node',
  ]);
  const body = readFileSync(tarball);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (!req.url?.endsWith(`-v${process.versions.modules}-linux-x64.tar.gz`)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('the release tarball', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  // npm installs some 370 packages from its cache: minutes on a busy two-core machine, not seconds.
  it('packs only what runs, installs with npm install -g, and starts', { timeout: 240_000 }, async () => {
    const copy = await cleanCopy('package');
    const out = tempDir('package-out');
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], {
      cwd: copy,
      env: process.env,
    });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    const files = packed?.files.map((f) => f.path) ?? [];
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('dist/codecs/codec-worker.js');
    expect(files).toContain('ui/index.html');
    expect(files).toContain('gateway.example.yaml');
    expect(
      files.filter((f) => /^(test|bench|devkit|scripts|src)\//.test(f) || f.endsWith('.test.js') || f.endsWith('.map')),
    ).toEqual([]);
    expect(files.length).toBeLessThan(250);

    const mirror = await prebuiltMirror();
    cleanups.push(mirror.close);
    const prefix = tempDir('package-prefix');
    await run(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        path.join(out, packed?.filename ?? ''),
      ],
      {
        env: { ...process.env, npm_config_better_sqlite3_binary_host: mirror.url },
      },
    );
    expect(mirror.requests.some((r) => r.includes('better-sqlite3-v'))).toBe(true);

    const cwd = tempDir('package-run');
    const port = await freePort();
    const child = spawn(path.join(prefix, 'bin', 'dicomweb-gateway'), ['start'], {
      cwd,
      env: {
        ...process.env,
        DICOMWEB_HTTP_PORT: String(port),
        DICOMWEB_DIMSE_PORT: String(await freePort()),
        DICOMWEB_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    });
    let printed = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        printed += c.toString();
        if (printed.includes(`http://127.0.0.1:${port}/dicomweb`)) resolve();
      });
      void exited.then((code) => reject(new Error(`exited ${code} before it was ready: ${stderr}`)));
    });
    const studies = await fetch(`http://127.0.0.1:${port}/dicomweb/studies`);
    expect(studies.status).toBe(200);
    expect(((await studies.json()) as unknown[]).length).toBeGreaterThan(5);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(readdirSync(cwd)).toEqual(['data']);
  });
});
