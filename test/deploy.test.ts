/**
 * docs/deploy.md's systemd unit: systemd's own checks accept it (`systemd-analyze verify`: syntax, directives,
 * the command), and its hardening keeps the exposure `systemd-analyze security` reports below 3 ("OK").
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../devkit/processes.js';
import { tempDir } from '../devkit/temp.js';

const UNIT = 'docs/deploy/dicomweb-gateway.service';
const COMMAND = '/usr/local/bin/dicomweb-gateway';

/** The unit with its command pointing at a stand-in (verify checks that the command exists and is executable). */
function unitHere(): string {
  const dir = tempDir('deploy');
  const command = path.join(dir, 'dicomweb-gateway');
  writeFileSync(command, '#!/bin/sh\n');
  chmodSync(command, 0o755);
  const unit = path.join(dir, 'dicomweb-gateway.service');
  writeFileSync(unit, readFileSync(UNIT, 'utf8').replaceAll(COMMAND, command));
  return unit;
}

describe('the systemd unit of docs/deploy.md', () => {
  it('runs the installed command with a configuration under /etc, and the docs install it from where it is', () => {
    const unit = readFileSync(UNIT, 'utf8');
    expect(unit).toMatch(new RegExp(`^ExecStart=${COMMAND} serve --config /etc/dicomweb-gateway/gateway.yaml$`, 'm'));
    expect(readFileSync('docs/deploy.md', 'utf8')).toContain(`sudo cp ${UNIT} /etc/systemd/system/`);
  });

  it('passes systemd-analyze verify', async () => {
    const result = await run('systemd-analyze', ['verify', unitHere()]);
    expect(result.stderr.trim()).toBe('');
    expect(result.code).toBe(0);
  });

  it('has an exposure below 3 in systemd-analyze security', async () => {
    const result = await run('systemd-analyze', [
      'security',
      '--offline=yes',
      '--threshold=30',
      '--no-pager',
      unitHere(),
    ]);
    const level = /Overall exposure level for \S+: ([\d.]+)/.exec(result.stdout)?.[1];
    expect(Number(level)).toBeLessThan(3);
    expect(result.code).toBe(0);
  });
});
