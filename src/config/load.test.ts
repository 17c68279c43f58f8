import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, ConfigError, configLeaves, maskedConfig } from './load.js';
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
    expect(c.pacs).toMatchObject({
      aeTitle: 'ORTHANC',
      host: '127.0.0.1',
      port: 4242,
      retrieve: 'move',
      maxAssociations: 8,
    });
    expect(c.cache.maxBytes).toBe(10 * 2 ** 30);
  });

  it('opens the DICOM port no wider than HTTP, and runs the Storage SCP only when C-MOVE needs it', () => {
    expect(loadConfig({ env: {} }).dimse).toMatchObject({ host: '0.0.0.0', listen: true, allowedPeers: [] });
    expect(loadConfig({ env: { DICOMWEB_HTTP_HOST: '127.0.0.1' } }).dimse.host).toBe('127.0.0.1');
    expect(loadConfig({ env: { DICOMWEB_HTTP_HOST: '127.0.0.1', DICOMWEB_DIMSE_HOST: '0.0.0.0' } }).dimse.host).toBe(
      '0.0.0.0',
    );
    expect(loadConfig({ env: { DICOMWEB_PACS_RETRIEVE: 'get' } }).dimse.listen).toBe(false);
    expect(loadConfig({ env: { DICOMWEB_PACS_RETRIEVE: 'get', DICOMWEB_DIMSE_LISTEN: 'true' } }).dimse.listen).toBe(
      true,
    );
    expect(
      loadConfig({ env: { DICOMWEB_DIMSE_ALLOWED_PEERS: '10.1.0.0/16, 192.0.2.7, fd00::/8' } }).dimse.allowedPeers,
    ).toEqual(['10.1.0.0/16', '192.0.2.7', 'fd00::/8']);
    expect(() => loadConfig({ env: { DICOMWEB_DIMSE_ALLOWED_PEERS: '10.1.0.0/33' } })).toThrow(/allowedPeers.*CIDR/);
  });

  it('serves the embedded archive when no PACS is configured, the PACS when one is, and refuses both', () => {
    expect(loadConfig({ env: {} })).toMatchObject({
      backend: 'embedded',
      archive: { dir: './data/archive', duplicates: 'keep' },
    });
    expect(loadConfig({ env: { DICOMWEB_ARCHIVE_DIR: '/srv/archive' } })).toMatchObject({
      backend: 'embedded',
      archive: { dir: '/srv/archive' },
    });
    expect(loadConfig({ env: { DICOMWEB_PACS_HOST: 'pacs.example.org' } }).backend).toBe('dimse');
    expect(() => loadConfig({ file: file('pacs: { port: 104 }\narchive: { dir: /srv/a }\n'), env: {} })).toThrow(
      /either pacs .* or archive .*, not both/,
    );
    expect(() =>
      loadConfig({ file: file('tenants: { b: { dimse: { port: 11113 }, cache: { dir: /tmp/b } } }\n'), env: {} }),
    ).toThrow(/a tenant needs pacs .* or archive/);
  });

  it('takes several archives as a list under pacs, and says what is wrong with one', () => {
    const yaml = file(
      [
        'pacs:',
        '  - { name: local, archive: { dir: /srv/local } }',
        '  - { name: main, aeTitle: MAIN, host: pacs.example.org, port: 104, retrieve: get }',
        '  - { name: cardio, aeTitle: CARDIO, port: 4242, priority: 0, searchTimeoutMs: 3000 }',
        'stow: { target: main }',
        'federation: { readyWhen: all }',
      ].join('\n'),
    );
    const config = loadConfig({ file: yaml, env: {} });
    expect(config.backend).toBe('federated');
    expect(config.members).toMatchObject([
      { kind: 'embedded', name: 'local', priority: 0, archive: { dir: '/srv/local' }, searchTimeoutMs: 60_000 },
      { kind: 'dimse', name: 'main', priority: 1, pacs: { aeTitle: 'MAIN', retrieve: 'get', maxAssociations: 8 } },
      { kind: 'dimse', name: 'cardio', priority: 0, pacs: { aeTitle: 'CARDIO', searchTimeoutMs: 3000 } },
    ]);
    expect(config).toMatchObject({
      stowTarget: 'main',
      federation: { readyWhen: 'all' },
      archive: { dir: '/srv/local' },
    });
    // The embedded member and CARDIO's C-MOVE need the Storage SCP.
    expect(config.dimse.listen).toBe(true);
    // From the environment, as JSON.
    const fromEnv = loadConfig({ env: { DICOMWEB_PACS: '[{"name":"a","aeTitle":"A"},{"name":"b","aeTitle":"B"}]' } });
    expect(fromEnv.members.map((m) => m.name)).toEqual(['a', 'b']);
    const bad =
      (text: string): (() => unknown) =>
      () =>
        loadConfig({ file: file(text), env: {} });
    expect(bad('pacs: [{ name: a, aeTitle: A, port: 70000 }]')).toThrow(/pacs\.0\.port/);
    expect(bad('pacs: [{ name: a }, { name: a }]')).toThrow(/pacs\.1\.name: "a" is listed twice/);
    expect(bad('pacs: [{ name: a, archive: {} }, { name: b, archive: { dir: /x } }]')).toThrow(/at most one embedded/);
    expect(bad('pacs: [{ name: a }]\nstow: { target: b }')).toThrow(/stow\.target: names no member of pacs \(a\)/);
    expect(bad('pacs: [{ name: a }]\narchive: { dir: /x }')).toThrow(/list the archive as a member of pacs/);
    expect(bad('pacs: []')).toThrow(/list at least one archive/);
  });

  it('reads YAML and JSON files, and environment variables override them', () => {
    const yaml = file('pacs: { aeTitle: PACS1, port: 104 }\ncache: { maxBytes: 512MiB }\n');
    expect(
      loadConfig({ file: yaml, env: { DICOMWEB_PACS_PORT: '11112', DICOMWEB_PACS_MAX_ASSOCIATIONS: '2' } }).pacs,
    ).toMatchObject({ aeTitle: 'PACS1', port: 11112, maxAssociations: 2 });
    expect(loadConfig({ file: yaml, env: {} }).cache.maxBytes).toBe(512 * 2 ** 20);
    const json = file('{"http": {"port": 9000}}', 'c.json');
    expect(loadConfig({ file: json, env: { DICOMWEB_DIMSE_ALLOWED_CALLING_AE_TITLES: 'A, B' } })).toMatchObject({
      http: { port: 9000 },
      dimse: { allowedCallingAeTitles: ['A', 'B'] },
    });
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

  const SECRET = Buffer.alloc(32, 7).toString('base64');
  const KEYS = JSON.stringify([{ kid: 'k1', secret: SECRET }]);

  it('takes structured values as JSON from the environment: signing keys, OAuth keys, lists', () => {
    expect(loadConfig({ env: { DICOMWEB_AUTH_SIGNING_KEYS: KEYS } }).auth.signingKeys).toEqual([
      { kid: 'k1', secret: SECRET },
    ]);
    const oauth = loadConfig({
      env: {
        DICOMWEB_AUTH_OAUTH_ISSUER: 'https://idp.example.org',
        DICOMWEB_AUTH_OAUTH_AUDIENCE: 'dicomweb',
        DICOMWEB_AUTH_OAUTH_KEYS: JSON.stringify([{ kid: 'o1', key: '{"kty":"OKP"}' }]),
      },
    }).auth.oauth;
    expect(oauth?.keys).toEqual([{ kid: 'o1', key: '{"kty":"OKP"}' }]);
    expect(loadConfig({ env: { DICOMWEB_DIMSE_ALLOWED_PEERS: '["10.0.0.0/8"]' } }).dimse.allowedPeers).toEqual([
      '10.0.0.0/8',
    ]);
  });

  it('says how to give a list of objects, and never repeats a secret back', () => {
    const problem = (env: NodeJS.ProcessEnv): string => {
      try {
        loadConfig({ env });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    const shorthand = problem({ DICOMWEB_AUTH_SIGNING_KEYS: `k1:${SECRET}` });
    expect(shorthand).toMatch(/DICOMWEB_AUTH_SIGNING_KEYS: auth\.signingKeys is a list of objects: give it as JSON/);
    expect(shorthand).not.toContain(SECRET);
    const broken = problem({ DICOMWEB_AUTH_SIGNING_KEYS: `[{"kid": "k1", "secret": "${SECRET}"` });
    expect(broken).toMatch(/auth\.signingKeys is not valid JSON/);
    expect(broken).not.toContain(SECRET);
  });

  it('reads a value from the file a *_FILE variable names (Docker and Kubernetes secrets, systemd credentials)', () => {
    const keys = file(`${KEYS}\n`, 'keys.json');
    expect(loadConfig({ env: { DICOMWEB_AUTH_SIGNING_KEYS_FILE: keys } }).auth.signingKeys[0]?.secret).toBe(SECRET);
    const apiKeys = file(JSON.stringify([{ id: 'modality-1', sha256: 'a'.repeat(64), scopes: ['write'] }]), 'api.json');
    expect(loadConfig({ env: { DICOMWEB_AUTH_API_KEYS_FILE: apiKeys } }).auth.apiKeys[0]?.id).toBe('modality-1');
    const issuer = file('https://idp.example.org\n', 'issuer');
    const jwks = file('https://idp.example.org/jwks', 'jwks');
    expect(
      loadConfig({
        env: {
          DICOMWEB_AUTH_OAUTH_ISSUER_FILE: issuer,
          DICOMWEB_AUTH_OAUTH_AUDIENCE: 'a',
          DICOMWEB_AUTH_OAUTH_JWKS_URL_FILE: jwks,
        },
      }).auth.oauth,
    ).toMatchObject({ issuer: 'https://idp.example.org', jwksUrl: 'https://idp.example.org/jwks' });
    expect(() =>
      loadConfig({ env: { DICOMWEB_AUTH_SIGNING_KEYS_FILE: keys, DICOMWEB_AUTH_SIGNING_KEYS: KEYS } }),
    ).toThrow(/both set/);
    expect(() => loadConfig({ env: { DICOMWEB_AUTH_SIGNING_KEYS_FILE: '/nonexistent/keys' } })).toThrow(
      /DICOMWEB_AUTH_SIGNING_KEYS_FILE: cannot read \/nonexistent\/keys: ENOENT/,
    );
  });

  it('reports every problem at once', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({
        file: file('pacs: { port: 70000 }\nhttp: { trustedProxies: [not-an-ip] }\n'),
        env: { DICOMWEB_CACHE_MAX_BYTES: '10 parsecs', DICOMWEB_NOPE: '1' },
      });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.problems).toHaveLength(4);
    expect(error?.message).toMatch(/^4 problems:/);
    for (const key of ['pacs.port', 'http.trustedProxies.0', 'cache.maxBytes', 'DICOMWEB_NOPE'])
      expect(error?.message).toContain(key);
  });

  it('masks credentials in the configuration it prints', () => {
    const masked = JSON.stringify(maskedConfig(loadConfig({ env: { DICOMWEB_AUTH_SIGNING_KEYS: KEYS } })));
    expect(masked).not.toContain(SECRET);
    expect(masked).toContain('"kid":"k1","secret":"***"');
    // A Redis URL may carry a password: masked, and never echoed in an error either.
    const redis = loadConfig({ env: { DICOMWEB_REDIS_URL: 'redis://:hunter2@cache:6379' } });
    expect(redis.redis.url).toBe('redis://:hunter2@cache:6379');
    expect(JSON.stringify(maskedConfig(redis))).toContain('"url":"***"');
    expect(() => loadConfig({ env: { DICOMWEB_REDIS_URL: 'hunter2' } })).toThrow(/redis\.url/);
    expect(() => loadConfig({ env: { DICOMWEB_REDIS_URL: 'hunter2' } })).not.toThrow(/hunter2/);
  });

  it('takes a renamed key under its old name for a while, with a warning (the deprecation rule)', () => {
    const renames = [{ from: 'pacs.callTimeoutMs', to: 'pacs.responseTimeoutMs', until: '0.3.0' }];
    const warnings: string[] = [];
    const fromFile = loadConfig({
      file: file('pacs: { callTimeoutMs: 1234 }\n'),
      env: {},
      renames,
      onWarning: (w) => warnings.push(w),
    });
    expect(fromFile.pacs.responseTimeoutMs).toBe(1234);
    const fromEnv = loadConfig({
      env: { DICOMWEB_PACS_CALL_TIMEOUT_MS: '4321' },
      renames,
      onWarning: (w) => warnings.push(w),
    });
    expect(fromEnv.pacs.responseTimeoutMs).toBe(4321);
    expect(warnings).toEqual([
      'pacs.callTimeoutMs is now pacs.responseTimeoutMs; the old name is taken until version 0.3.0: rename it in the configuration file',
      'DICOMWEB_PACS_CALL_TIMEOUT_MS is now DICOMWEB_PACS_RESPONSE_TIMEOUT_MS; the old name is taken until version 0.3.0',
    ]);
    expect(() =>
      loadConfig({ file: file('pacs: { callTimeoutMs: 1, responseTimeoutMs: 2 }\n'), env: {}, renames }),
    ).toThrow(/both set/);
    // Without the rename (a later version), the old name is an unknown key like any other.
    expect(() => loadConfig({ file: file('pacs: { callTimeoutMs: 1234 }\n'), env: {} })).toThrow(/callTimeoutMs/);
  });
});
