/**
 * Service credentials (docs/security.md): API keys, kept only as hashes, and client certificates over HTTPS,
 * each mapped to rights, through the real gateway on its embedded archive. A key with write stores by STOW-RS, a
 * read-only key is refused 403, a revoked or unknown key 401; a verified client certificate reads without any
 * other credential, one the gateway does not know reads nothing. Every use is audited under the credential's id.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gatewayOnEmbeddedArchive } from './harness/gateway.js';
import { imagingFixtureFiles, fixture } from './harness/imaging.js';
import { apiKeyHash, createApiKey } from '../src/auth/api-keys.js';
import { anotherClientCertificate, testCertificates, type TestCertificates } from '../devkit/certificates.js';
import { run } from '../devkit/processes.js';
import { tempDir } from '../devkit/temp.js';

const BOUNDARY = 'service-credentials';

function stowBody(file: string): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`),
    readFileSync(file),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

type AuditRecord = { who: { subject: string; via: string }; request: { method: string; status: number } };

describe('API keys', () => {
  const writer = createApiKey('pacs-bridge');
  const reader = createApiKey('reporting');
  const revoked = createApiKey('old-modality');
  const auditFile = path.join(tempDir('apikey-audit'), 'audit.jsonl');
  let gw: Awaited<ReturnType<typeof gatewayOnEmbeddedArchive>>;

  beforeAll(async () => {
    gw = await gatewayOnEmbeddedArchive([], {
      audit: { file: auditFile },
      auth: {
        mode: 'required',
        apiKeys: [
          { id: 'pacs-bridge', sha256: writer.sha256, scopes: ['read', 'write'] },
          { id: 'reporting', sha256: reader.sha256, scopes: ['read'] },
          { id: 'old-modality', sha256: revoked.sha256, scopes: ['read', 'write'], revoked: true },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const stow = (key: string): Promise<Response> =>
    fetch(`${gw.base}/studies`, {
      method: 'POST',
      body: stowBody(imagingFixtureFiles().get(fixture('sr-basic')) as string),
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
        accept: 'application/dicom+json',
      },
    });

  it('stores with a key that grants write, refuses a read-only key 403, a revoked or unknown key 401', async () => {
    const stored = await stow(writer.key);
    expect(stored.status).toBe(200);
    const found = await fetch(`${gw.base}/instances?SOPInstanceUID=${fixture('sr-basic').uid}`, {
      headers: { authorization: `Bearer ${reader.key}` },
    });
    expect([found.status, ((await found.json()) as unknown[]).length]).toEqual([200, 1]);

    const readOnly = await stow(reader.key);
    expect([readOnly.status, ((await readOnly.json()) as { message: string }).message]).toEqual([
      403,
      'apikey:reporting does not grant write',
    ]);
    const old = await stow(revoked.key);
    expect([old.status, ((await old.json()) as { message: string }).message]).toEqual([
      401,
      'API key old-modality has been revoked',
    ]);
    expect(old.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const forged = await stow(`${writer.key.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(401);
    const unknown = await stow(createApiKey('nobody').key);
    expect([unknown.status, ((await unknown.json()) as { message: string }).message]).toEqual([
      401,
      'the API key is not known here',
    ]);
  });

  it("audits each use under the key's id, never the key", async () => {
    let records: AuditRecord[] = [];
    // The records are written as the responses end: wait for the last of the test above.
    while (records.filter((r) => r.request.method === 'POST').length < 5) {
      records = existsSync(auditFile)
        ? readFileSync(auditFile, 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as AuditRecord)
        : [];
      if (records.filter((r) => r.request.method === 'POST').length < 5) await new Promise((r) => setTimeout(r, 20));
    }
    expect(records.find((r) => r.request.method === 'POST' && r.request.status === 200)?.who).toMatchObject({
      subject: 'apikey:pacs-bridge',
      via: 'api-key',
    });
    expect(records.find((r) => r.request.status === 403)?.who).toMatchObject({ subject: 'unauthenticated' });
    const text = readFileSync(auditFile, 'utf8');
    for (const key of [writer.key, reader.key, revoked.key]) expect(text).not.toContain(key.split('.').pop());
  });

  it('prints a key once from the command, with the entry that keeps only its hash', async () => {
    const { stdout, stderr } = await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli.ts',
      'apikey',
      'create',
      '--id',
      'ward-3',
      '--scopes',
      'read,write',
    ]);
    const key = stdout.trim();
    expect(key).toMatch(/^dwgk\.ward-3\.[A-Za-z0-9_-]{43}$/);
    const entry = JSON.parse(/- (\{.*\})/.exec(stderr)?.[1] ?? '{}') as {
      id: string;
      sha256: string;
      scopes: string[];
    };
    expect(entry).toEqual({ id: 'ward-3', sha256: apiKeyHash(key), scopes: ['read', 'write'] });
    expect(stderr).not.toContain(key);
    await expect(
      run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'apikey', 'create', '--id', 'x', '--scopes', 'admin']),
    ).rejects.toThrow(/exited with 2[\s\S]*--scopes admin/);
  });
});

describe('client certificates over HTTPS', () => {
  let certs: TestCertificates;
  let gw: Awaited<ReturnType<typeof gatewayOnEmbeddedArchive>>;
  let stranger: { cert: string; key: string };

  beforeAll(async () => {
    certs = await testCertificates();
    // A certificate from the same CA, under another name: verified by TLS, but mapped to nothing.
    stranger = await anotherClientCertificate(certs, 'stranger');
    gw = await gatewayOnEmbeddedArchive([imagingFixtureFiles().get(fixture('ct-signed')) as string], {
      http: { tls: { cert: certs.cert, key: certs.key, ca: certs.ca } },
      auth: { mode: 'required', clientCertificates: [{ id: 'viewer-ws', subjectCN: 'viewer', scopes: ['read'] }] },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const curl = async (args: string[]): Promise<{ status: number; body: string }> => {
    const out = path.join(tempDir('mtls'), 'body');
    const { stdout } = await run('curl', ['-s', '-o', out, '-w', '%{http_code}', '--cacert', certs.ca, ...args]);
    return { status: Number(stdout), body: readFileSync(out, 'utf8') };
  };

  it('reads with a mapped certificate, and only with its rights', async () => {
    const search = await curl([
      '--cert',
      certs.clientCert,
      '--key',
      certs.clientKey,
      `${gw.base}/instances?SOPInstanceUID=${fixture('ct-signed').uid}`,
    ]);
    expect(search.status).toBe(200);
    expect(JSON.parse(search.body)).toHaveLength(1);
    const upload = await curl([
      '--cert',
      certs.clientCert,
      '--key',
      certs.clientKey,
      '-X',
      'POST',
      '-H',
      `Content-Type: multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
      '--data-binary',
      'x',
      `${gw.base}/studies`,
    ]);
    expect([upload.status, (JSON.parse(upload.body) as { message: string }).message]).toEqual([
      403,
      'certificate:viewer-ws does not grant write',
    ]);
  });

  it('lets nothing in on a certificate it does not map, or on none', async () => {
    expect((await curl(['--cert', stranger.cert, '--key', stranger.key, `${gw.base}/studies`])).status).toBe(401);
    expect((await curl([`${gw.base}/studies`])).status).toBe(401);
  });
});
