/**
 * The README's first two commands: `npm ci && npm start` (npm only; run by test/quick-start.integration.test.ts),
 * and the test command, which works on a fresh Debian machine for root (no sudo there) and for a sudo user
 * (issue 10 item 14), and CI runs the same install step. The install script runs here with fake apt-get, sudo and
 * id on a PATH without the packages, recording what would have been called.
 */
import { describe, it, expect } from 'vitest';
import { chmodSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../devkit/processes.js';
import { tempDir } from '../devkit/temp.js';
import { cliNodeFlags } from '../devkit/cli-flags.js';

const readme = readFileSync('README.md', 'utf8');
const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
const commands = firstBlock.split('\n').filter((l) => l && !l.startsWith('#'));

describe('README front door', () => {
  it('starts with an npm-only start command and a test command, the test one being what .ci/run runs', () => {
    expect(commands).toEqual([
      'npm ci && npm start',
      'bash scripts/install-debian-packages.sh test && npm ci && npm test',
    ]);
    const ci = readFileSync('.ci/run', 'utf8');
    expect(ci).toContain('bash scripts/install-debian-packages.sh test');
    expect(ci).toMatch(/\nnpm test\n/);
    expect(ci).not.toMatch(/sudo apt-get/);
    // npm ci builds what npm start runs (test/quick-start.integration.test.ts runs that in a clean copy).
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect([scripts.prepare, scripts.start]).toEqual([
      'npm run build',
      ['node', ...cliNodeFlags(), 'dist/cli.js start'].join(' '),
    ]);
    // The installed command runs with the same flags as npm start: its shebang (`env -S`) carries them.
    expect(readFileSync('dist/cli.js', 'utf8').split('\n', 1)[0]).toBe(
      readFileSync('src/cli.ts', 'utf8').split('\n', 1)[0],
    );
  });

  for (const [who, uid, expected] of [
    ['root, no sudo installed', '0', 'apt-get install'],
    ['a sudo user', '1000', 'sudo apt-get install'],
  ] as const) {
    it(`installs what is missing as ${who}`, async () => {
      const bin = tempDir('fakebin');
      const log = path.join(bin, 'calls.log');
      const fake = (name: string, body: string): void => {
        writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`);
        chmodSync(path.join(bin, name), 0o755);
      };
      fake('id', `echo ${uid}`);
      fake('apt-get', `echo "apt-get $*" >> ${log}`);
      if (uid !== '0') fake('sudo', `echo -n "sudo " >> ${log}; "$@"`);
      // Only the fakes and bash: no dcmqrscp, Orthanc, chromium… so everything is "missing".
      await run('/bin/bash', ['scripts/install-debian-packages.sh', 'test'], { env: { PATH: bin } });
      const calls = readFileSync(log, 'utf8').trim().split('\n');
      expect(calls[0]).toBe(uid === '0' ? 'apt-get update -qq' : 'sudo apt-get update -qq');
      expect(calls[1]).toMatch(new RegExp(`^${expected} -y -qq dcmtk orthanc`));
      for (const p of ['chromium', 'libgdcm-tools', 'libopenjp2-tools', 'iproute2']) expect(calls[1]).toContain(p);
      expect(existsSync(path.join(bin, 'sudo')) || !calls.join('\n').includes('sudo')).toBe(true);
    });
  }
});
