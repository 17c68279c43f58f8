/**
 * The command as an operator meets it: help for each command, `check` listing every problem of a configuration
 * and printing the effective one with secrets masked, the ready line of the embedded archive, `echo` with no PACS,
 * `sign` for TLS and for resources that take no signed URL, `sop-classes`, a bad trusted proxy refused at start
 * (exit 2, not a stack trace), and the audit file on standard output ("-") or reopened on SIGHUP.
 */
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { tempDir } from '../devkit/temp.js';
import { STORAGE_SOP_CLASSES } from '../src/dimse-bridge/sop-classes.js';
import { startGateway } from '../src/gateway.js';
import { configSchema } from '../src/config/schema.js';
import { signUrl } from '../src/auth/signed-url.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
/** tsx by path: a command run in another directory would not find it by name. */
const TSX = createRequire(import.meta.url).resolve('tsx');
const SECRET = Buffer.alloc(32, 5).toString('base64');

interface Running {
  stdout: () => string;
  until(match: RegExp): Promise<void>;
  signal(name: NodeJS.Signals): void;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** The command as a process, with only the DICOMWEB_* variables given (none of the caller's). */
function start(args: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Running {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DICOMWEB_')));
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    env: { ...clean, ...env },
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { match: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    for (const w of waiters.splice(0)) {
      if (w.match.test(stdout)) w.resolve();
      else waiters.push(w);
    }
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    stdout: () => stdout,
    until: (match) =>
      match.test(stdout)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ match, resolve });
            void exit.then((e) => reject(new Error(`exited ${e.code} before ${match}: ${e.stderr}`)));
          }),
    signal: (name) => child.kill(name),
    exit,
  };
}

const cli = (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Running['exit'] => start(args, env, cwd).exit;

describe('dicomweb-gateway help', () => {
  it("prints one command's usage for COMMAND --help and help COMMAND, all of it for help", async () => {
    const [byFlag, byHelp, all, unknown] = await Promise.all([
      cli(['check', '--help']),
      cli(['help', 'sign']),
      cli(['help']),
      cli(['help', 'nope']),
    ]);
    expect(byFlag.code).toBe(0);
    expect(byFlag.stdout).toMatch(/^usage: dicomweb-gateway check \[--config FILE\]\n/);
    expect(byFlag.stdout).not.toContain('dicomweb-gateway sign');
    expect(byHelp.stdout).toMatch(/^usage: dicomweb-gateway sign PATH/);
    expect(byHelp.stdout).toContain('rendered and thumbnail resources only');
    for (const command of [
      'serve',
      'start',
      'check',
      'echo',
      'probe',
      'reindex',
      'import',
      'prefetch',
      'sign',
      'apikey',
      'sop-classes',
    ])
      expect(all.stdout).toContain(`  ${command}\n`);
    expect(all.stdout).toContain('_FILE');
    expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('help: no command "nope"')]);
  });
});

describe('dicomweb-gateway check', () => {
  it('lists every problem of a configuration at once (exit 2)', async () => {
    const file = path.join(tempDir('check'), 'gateway.yaml');
    writeFileSync(
      file,
      'pacs: { port: 70000, retrieve: fetch }\nhttp: { trustedProxies: [not-an-ip], corsOrigins: ["https://ohif.example.org/viewer"] }\n',
    );
    const r = await cli(['check', '--config', file], { DICOMWEB_CACHE_MAX_BYTES: 'lots' });
    expect(r.code).toBe(2);
    for (const key of ['pacs.port', 'pacs.retrieve', 'http.trustedProxies.0', 'http.corsOrigins.0', 'cache.maxBytes'])
      expect(r.stderr).toContain(key);
    expect(r.stderr).toMatch(/5 problems/);
  });

  it('prints the effective configuration (defaults, file, environment) with every secret masked', async () => {
    const file = path.join(tempDir('check'), 'gateway.yaml');
    writeFileSync(
      file,
      `http: { corsOrigins: ["https://ohif.example.org/"] }\nauth: { signingKeys: [{ kid: k1, secret: "${SECRET}" }] }\n`,
    );
    const r = await cli(['check', '--config', file], { DICOMWEB_PACS_HOST: 'pacs.example.org' });
    expect(r.code).toBe(0);
    const effective = JSON.parse(r.stdout) as {
      pacs: { host: string; port: number };
      http: { corsOrigins: string[] };
      auth: { signingKeys: { kid: string; secret: string }[] };
    };
    expect(effective.pacs).toMatchObject({ host: 'pacs.example.org', port: 4242 });
    // A trailing slash would never match a browser's Origin header: it is dropped.
    expect(effective.http.corsOrigins).toEqual(['https://ohif.example.org']);
    expect(effective.auth.signingKeys).toEqual([{ kid: 'k1', secret: '***' }]);
    expect(r.stdout).not.toContain(SECRET);
  });

  it('reports what keeps a valid configuration from starting (no credential at all)', async () => {
    const r = await cli(['check'], {});
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining('nobody could get in')]);
  });
});

describe('commands on the embedded archive', () => {
  it('echo without a PACS exits 2 saying so; sop-classes lists what is taken', async () => {
    const [echo, classes] = await Promise.all([cli(['echo'], { DICOMWEB_AUTH_MODE: 'none' }), cli(['sop-classes'])]);
    expect([echo.code, echo.stderr]).toEqual([
      2,
      expect.stringContaining(
        'echo: tenant default is served by the embedded archive in ./data/archive: there is no PACS to C-ECHO',
      ),
    ]);
    const lines = classes.stdout.trim().split('\n');
    expect(lines).toHaveLength(STORAGE_SOP_CLASSES.size);
    expect(lines).toContain('1.2.840.10008.5.1.4.1.1.2\tCTImage');
  });

  it('names the archive in its ready line, not a PACS; logs each instance a modality stores; takes "-" as stdout for the audit file', async () => {
    const cwd = tempDir('cli-embedded');
    const port = await freePort();
    const dimsePort = await freePort();
    const gw = start(
      ['serve'],
      {
        DICOMWEB_HTTP_HOST: '127.0.0.1',
        DICOMWEB_HTTP_PORT: String(port),
        DICOMWEB_DIMSE_PORT: String(dimsePort),
        DICOMWEB_AUTH_MODE: 'none',
        DICOMWEB_ARCHIVE_DIR: path.join(cwd, 'archive'),
        DICOMWEB_CACHE_DIR: path.join(cwd, 'cache'),
        DICOMWEB_AUDIT_FILE: '-',
      },
      cwd,
    );
    await gw.until(/dicomweb-gateway ready/);
    const ready = JSON.parse(
      gw
        .stdout()
        .split('\n')
        .find((l) => l.includes('dicomweb-gateway ready')) ?? '{}',
    ) as Record<string, unknown>;
    expect(ready).toMatchObject({ backend: 'embedded', archive: path.join(cwd, 'archive') });
    expect(ready.pacs).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${port}/dicomweb/studies`)).status).toBe(200);
    await gw.until(/"event":\{"id":"110112"/);
    // A modality stores one instance: one info line (level 30) names it, at the default log level.
    const [file] = fixtureFiles().files;
    await run('storescu', ['-aec', 'DICOMWEB', '127.0.0.1', String(dimsePort), file ?? '']);
    await gw.until(/"msg":"instance stored"/);
    const stored = gw
      .stdout()
      .split('\n')
      .filter((l) => l.includes('"msg":"instance stored"'))
      .map((l) => JSON.parse(l) as { level: number; from: string });
    expect(stored).toEqual([expect.objectContaining({ level: 30, from: 'STORESCU' })]);
    gw.signal('SIGTERM');
    expect((await gw.exit).code).toBe(0);
    expect(readdirSync(cwd)).not.toContain('-');
    expect(readdirSync(cwd)).toContain('archive');
  });

  it('reopens the audit file on SIGHUP (logrotate): records after it go to the new file', async () => {
    const dir = tempDir('cli-hup');
    const audit = path.join(dir, 'audit.jsonl');
    const port = await freePort();
    const gw = start(['serve'], {
      DICOMWEB_HTTP_HOST: '127.0.0.1',
      DICOMWEB_HTTP_PORT: String(port),
      DICOMWEB_DIMSE_PORT: String(await freePort()),
      DICOMWEB_AUTH_MODE: 'none',
      DICOMWEB_ARCHIVE_DIR: path.join(dir, 'archive'),
      DICOMWEB_CACHE_DIR: path.join(dir, 'cache'),
      DICOMWEB_AUDIT_FILE: audit,
    });
    await gw.until(/dicomweb-gateway ready/);
    await (await fetch(`http://127.0.0.1:${port}/dicomweb/studies?PatientID=before`)).arrayBuffer();
    await gw.until(/"msg":"request completed"/);
    renameSync(audit, `${audit}.1`);
    gw.signal('SIGHUP');
    await gw.until(/SIGHUP: audit file reopened/);
    await (await fetch(`http://127.0.0.1:${port}/dicomweb/studies?PatientID=after`)).arrayBuffer();
    const lines = (): string[] =>
      existsSync(audit) ? readFileSync(audit, 'utf8').trim().split('\n').filter(Boolean) : [];
    while (lines().length === 0) await new Promise((r) => setTimeout(r, 20));
    gw.signal('SIGTERM');
    await gw.exit;
    expect(readFileSync(`${audit}.1`, 'utf8')).toContain('PatientID=before');
    expect(lines().join('\n')).toContain('PatientID=after');
    expect(lines().join('\n')).not.toContain('PatientID=before');
  });
});

describe('signed URLs are for rendered and thumbnail resources', () => {
  const config = (dir: string, tls: boolean): string => {
    const file = path.join(dir, tls ? 'tls.yaml' : 'plain.yaml');
    writeFileSync(
      file,
      `http: { port: 8443${tls ? ', tls: { cert: /etc/dwg/cert.pem, key: /etc/dwg/key.pem }' : ''} }\nauth: { signingKeys: [{ kid: k1, secret: "${SECRET}" }] }\n`,
    );
    return file;
  };

  it('sign prints https for a TLS listener and refuses a resource that takes no signed URL', async () => {
    const dir = tempDir('sign');
    const [https, metadata] = await Promise.all([
      cli(['sign', '/studies/1.2.3/thumbnail', '--config', config(dir, true)]),
      cli(['sign', '/studies/1.2.3/metadata', '--config', config(dir, false)]),
    ]);
    expect(https.stdout).toMatch(
      /^https:\/\/localhost:8443\/dicomweb\/studies\/1\.2\.3\/thumbnail\?expires=\d+&kid=k1&signature=/,
    );
    expect([metadata.code, metadata.stderr]).toEqual([
      2,
      expect.stringContaining(
        'signed URLs open rendered and thumbnail resources only; for this resource mint a capability (--capability)',
      ),
    ]);
    const capability = await cli(['sign', '/studies/1.2.3/metadata', '--capability', '--config', config(dir, false)]);
    expect(capability.stdout).toMatch(/^dwgcap\./);
  });

  it('says why a signed URL does not open another resource (401)', async () => {
    const gateway = await startGateway(
      configSchema.parse({
        http: { host: '127.0.0.1', port: 0 },
        dimse: { port: 0 },
        archive: { dir: tempDir('signed-archive') },
        cache: { dir: tempDir('signed-cache') },
        auth: { signingKeys: [{ kid: 'k1', secret: SECRET }] },
        log: { level: 'silent' },
      }),
    );
    try {
      const signed = signUrl('/dicomweb/studies/1.2.3/metadata', {
        kid: 'k1',
        key: Buffer.from(SECRET, 'base64'),
        expires: Math.floor(Date.now() / 1000) + 60,
      });
      const r = await fetch(`${gateway.httpUrl}${signed}`);
      expect([r.status, ((await r.json()) as { message: string }).message]).toEqual([
        401,
        'signed URLs open rendered and thumbnail resources only; this resource needs a bearer token or a capability',
      ]);
    } finally {
      await gateway.close();
    }
  });
});

describe('a bad http.trustedProxies', () => {
  it('is refused at start: exit 2 naming the key, no stack trace', async () => {
    const r = await cli(['serve'], {
      DICOMWEB_HTTP_TRUSTED_PROXIES: 'not-an-ip',
      DICOMWEB_AUTH_MODE: 'none',
      DICOMWEB_HTTP_HOST: '127.0.0.1',
    });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^dicomweb-gateway: invalid configuration: http\.trustedProxies\.0: an IP address or a CIDR range/,
      ),
    ]);
  });
});
