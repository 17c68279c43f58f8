import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, ConfigError, configLeaves } from './load.js';
import { tempDir } from '../../devkit/temp.js';

function file(text: string, name = 'c.yaml'): string {
  const p = path.join(tempDir('cfg'), name);
  writeFileSync(p, text);
  return p;
}

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c.http).toMatchObject({ host: '0.0.0.0', port: 8080, basePath: '/dicomweb' });
    expect(c.dimse).toMatchObject({ aeTitle: 'DICOMWEB', port: 11112 });
    expect(c.pacs).toMatchObject({ aeTitle: 'ORTHANC', host: '127.0.0.1', port: 4242, retrieve: 'move', maxAssociations: 8 });
    expect(c.cache.maxBytes).toBe(10 * 2 ** 30);
  });

  it('opens the DICOM port no wider than HTTP, and runs the Storage SCP only when C-MOVE needs it', () => {
    expect(loadConfig({ env: {} }).dimse).toMatchObject({ host: '0.0.0.0', listen: true, allowedPeers: [] });
    expect(loadConfig({ env: { DICOMWEB_HTTP_HOST: '127.0.0.1' } }).dimse.host).toBe('127.0.0.1');
    expect(loadConfig({ env: { DICOMWEB_HTTP_HOST: '127.0.0.1', DICOMWEB_DIMSE_HOST: '0.0.0.0' } }).dimse.host).toBe('0.0.0.0');
    expect(loadConfig({ env: { DICOMWEB_PACS_RETRIEVE: 'get' } }).dimse.listen).toBe(false);
    expect(loadConfig({ env: { DICOMWEB_PACS_RETRIEVE: 'get', DICOMWEB_DIMSE_LISTEN: 'true' } }).dimse.listen).toBe(true);
    expect(loadConfig({ env: { DICOMWEB_DIMSE_ALLOWED_PEERS: '10.1.0.0/16, 192.0.2.7, fd00::/8' } }).dimse.allowedPeers).toEqual(['10.1.0.0/16', '192.0.2.7', 'fd00::/8']);
    expect(() => loadConfig({ env: { DICOMWEB_DIMSE_ALLOWED_PEERS: '10.1.0.0/33' } })).toThrow(/allowedPeers.*CIDR/);
  });

  it('serves the embedded archive when no PACS is configured, the PACS when one is, and refuses both', () => {
    expect(loadConfig({ env: {} })).toMatchObject({ backend: 'embedded', archive: { dir: './data/archive', duplicates: 'keep' } });
    expect(loadConfig({ env: { DICOMWEB_ARCHIVE_DIR: '/srv/archive' } })).toMatchObject({ backend: 'embedded', archive: { dir: '/srv/archive' } });
    expect(loadConfig({ env: { DICOMWEB_PACS_HOST: 'pacs.example.org' } }).backend).toBe('dimse');
    expect(() => loadConfig({ file: file('pacs: { port: 104 }\narchive: { dir: /srv/a }\n'), env: {} })).toThrow(/either pacs .* or archive .*, not both/);
    expect(() => loadConfig({ file: file('tenants: { b: { dimse: { port: 11113 }, cache: { dir: /tmp/b } } }\n'), env: {} })).toThrow(/a tenant needs pacs .* or archive/);
  });

  it('reads YAML and JSON files, and environment variables override them', () => {
    const yaml = file('pacs: { aeTitle: PACS1, port: 104 }\ncache: { maxBytes: 512MiB }\n');
    expect(loadConfig({ file: yaml, env: { DICOMWEB_PACS_PORT: '11112', DICOMWEB_PACS_MAX_ASSOCIATIONS: '2' } }).pacs).toMatchObject({ aeTitle: 'PACS1', port: 11112, maxAssociations: 2 });
    expect(loadConfig({ file: yaml, env: {} }).cache.maxBytes).toBe(512 * 2 ** 20);
    const json = file('{"http": {"port": 9000}}', 'c.json');
    expect(loadConfig({ file: json, env: { DICOMWEB_DIMSE_ALLOWED_CALLING_AE_TITLES: 'A, B' } })).toMatchObject({ http: { port: 9000 }, dimse: { allowedCallingAeTitles: ['A', 'B'] } });
  });

  it.each([
    [{ DICOMWEB_PACS_PORT: 'abc' }, /DICOMWEB_PACS_PORT=abc: pacs.port must be a number/],
    [{ DICOMWEB_PACS_PORT: '70000' }, /pacs\.port/],
    [{ DICOMWEB_PACS_AE_TITLE: 'WAY-TOO-LONG-AE-TITLE' }, /pacs\.aeTitle/],
    [{ DICOMWEB_PACS_RETRIEVE: 'fetch' }, /pacs\.retrieve/],
    [{ DICOMWEB_CACHE_MAX_BYTES: '10 parsecs' }, /cache\.maxBytes/],
    [{ DICOMWEB_PACS_PROT: '1' }, /DICOMWEB_PACS_PROT: no such configuration key/],
  ])('names the bad key: %o', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('rejects unknown keys in the file', () => {
    expect(() => loadConfig({ file: file('pacs: { aetitle: X }\n'), env: {} })).toThrow(/pacs/);
  });

  it('maps every key to an environment variable', () => {
    const envs = configLeaves().map((l) => l.env);
    expect(envs).toContain('DICOMWEB_HTTP_BASE_PATH');
    expect(envs).toContain('DICOMWEB_DIMSE_TLS_CERT');
    expect(new Set(envs).size).toBe(envs.length);
  });
});
