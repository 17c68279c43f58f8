/**
 * The container image (Dockerfile) and the compose example of docs/deploy.md. Built and run only where an OCI
 * builder and its base image can be had (`docker info` answers); everywhere else its rules are checked as text:
 * the hadolint rules that apply to it (pinned base, no :latest, apt lists cleaned in the same layer, no
 * recommended packages, a non-root user, absolute WORKDIR, JSON-form commands), and the promises of the docs — the
 * recommended Node.js LTS of .node-version, /data as the volume, a health check on /healthz, secrets by *_FILE.
 */
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';

const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');
const recommended = readFileSync(new URL('../.node-version', import.meta.url), 'utf8').trim();
/** Instructions with their continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const of = (keyword: string): string[] =>
  instructions.filter((l) => l.startsWith(`${keyword} `)).map((l) => l.slice(keyword.length + 1).trim());

const dockerWorks = ((): boolean => {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
})();

describe('the Dockerfile', () => {
  it('runs on the recommended Node.js LTS, the one package.json and the docs name', () => {
    expect(recommended).toMatch(/^24\.\d+\.\d+$/);
    expect(of('ARG')).toContain(`NODE_VERSION=${recommended}`);
    for (const from of of('FROM')) expect(from).toMatch(/^node:\$\{NODE_VERSION\}-bookworm-slim( AS \w+)?$/);
    const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };
    expect(engines.node).toContain('^24');
    expect(readFileSync(new URL('../docs/deploy.md', import.meta.url), 'utf8')).toContain(
      `Node.js ${recommended.split('.')[0]}`,
    );
  });

  it('keeps the rules hadolint holds it to', () => {
    expect(dockerfile).not.toMatch(/:latest\b/);
    for (const step of of('RUN')) {
      if (step.includes('apt-get install')) {
        expect(step).toContain('--no-install-recommends');
        expect(step).toContain('apt-get update');
        expect(step).toContain('rm -rf /var/lib/apt/lists/*');
      }
      expect(step).not.toMatch(/\bsudo\b|\bcd \//);
    }
    for (const dir of of('WORKDIR')) expect(dir.startsWith('/')).toBe(true);
    for (const cmd of [...of('CMD'), ...of('ENTRYPOINT')]) expect(cmd.startsWith('[')).toBe(true);
    expect(of('USER').at(-1)).toMatch(/^[1-9]\d*:[1-9]\d*$/);
  });

  it('keeps its data on /data, checks /healthz, and is configured by environment', () => {
    expect(of('VOLUME')).toEqual(['["/data"]']);
    expect(of('HEALTHCHECK').join(' ')).toContain('/healthz');
    const env = of('ENV').join(' ');
    for (const setting of [
      'DICOMWEB_ARCHIVE_DIR=/data/archive',
      'DICOMWEB_CACHE_DIR=/data/cache',
      'DICOMWEB_HTTP_HOST=0.0.0.0',
    ])
      expect(env).toContain(setting);
  });

  it('has a compose example in front of Orthanc whose secrets come from files', () => {
    const compose = parse(readFileSync(new URL('../docs/deploy/compose.yaml', import.meta.url), 'utf8')) as {
      services: Record<
        string,
        { build?: string; image?: string; environment?: Record<string, string>; secrets?: string[] }
      >;
    };
    const gateway = compose.services.gateway;
    expect(gateway?.build).toBe('../..');
    expect(compose.services.orthanc?.image).toMatch(/^orthancteam\/orthanc:\d/);
    expect(gateway?.environment?.DICOMWEB_PACS_HOST).toBe('orthanc');
    for (const [name, value] of Object.entries(gateway?.environment ?? {})) {
      if (/SIGNING_KEYS|API_KEYS/.test(name))
        expect(name.endsWith('_FILE') && value.startsWith('/run/secrets/'), name).toBe(true);
    }
  });

  it.runIf(dockerWorks)('builds, and the image serves its health check', { timeout: 900_000 }, async () => {
    await run('docker', ['build', '-t', 'dicomweb-gateway:test', '.'], {
      env: process.env,
      cwd: new URL('..', import.meta.url).pathname,
    });
    const port = await freePort();
    const { stdout } = await run(
      'docker',
      [
        'run',
        '-d',
        '--rm',
        '-p',
        `127.0.0.1:${port}:8080`,
        '-e',
        'DICOMWEB_AUTH_MODE=none',
        'dicomweb-gateway:test',
        'serve',
        '--insecure',
      ],
      { env: process.env },
    );
    const id = stdout.trim();
    try {
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
    } finally {
      await run('docker', ['stop', id], { env: process.env });
    }
  });
});
