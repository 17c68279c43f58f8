/**
 * Signed URLs, capabilities and bearer tokens through the real gateway in front of dcmqrscp (which logs every
 * association, so "no PACS traffic" can be counted), with a real issuer serving its JWKS on loopback.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { startIssuer, type TestIssuer } from './harness/issuer.js';
import { run } from '../devkit/processes.js';
import { allInstances, PATIENTS } from '../src/samples/catalog.js';
import { signUrl } from '../src/auth/signed-url.js';
import { startGateway } from '../src/gateway.js';
import { configSchema } from '../src/config/schema.js';
import { tempDir } from '../devkit/temp.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const SECRET = Buffer.alloc(32, 42).toString('base64');
const OLD_SECRET = Buffer.alloc(32, 17).toString('base64');

describe('authentication and authorisation (auth.mode: required)', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  let idp: TestIssuer;
  const study = PATIENTS[0]?.studies[0];
  const inst = [...allInstances()].find((i) => i.study.uid === study?.uid && i.series.modality === 'CT');
  const otherStudy = PATIENTS[1]?.studies[0];
  const thumbPath = (): string =>
    `/dicomweb/studies/${study?.uid}/series/${inst?.series.uid}/instances/${inst?.uid}/thumbnail`;
  const origin = (): string => gw.base.replace(/\/dicomweb$/, '');
  const associations = (): number => (pacs.output().match(/Association Received/g) ?? []).length;
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));
  const sign = (
    target: string,
    expires = Math.floor(Date.now() / 1000) + 600,
    kid = 'current',
    secret = SECRET,
  ): string => signUrl(target, { kid, key: Buffer.from(secret, 'base64'), expires });

  beforeAll(async () => {
    idp = await startIssuer();
    pacs = await startDcmqrscp({ verbose: true });
    gw = await startTestGateway(pacs, {
      pacs: { retrieve: 'get' },
      auth: {
        mode: 'required',
        signingKeys: [
          { kid: 'current', secret: SECRET },
          { kid: 'previous', secret: OLD_SECRET },
        ],
        oauth: { issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
    await idp?.close();
  });

  describe('signed URLs for rendered and thumbnail resources', () => {
    it('serves a thumbnail with a valid signature, from either configured key', async () => {
      expect((await fetch(`${origin()}${sign(thumbPath())}`)).status).toBe(200);
      const old = await fetch(`${origin()}${sign(thumbPath(), undefined, 'previous', OLD_SECRET)}`);
      expect(old.status).toBe(200);
      expect(old.headers.get('content-type')).toBe('image/jpeg');
    });

    it('refuses missing, malformed, tampered, expired and unknown-key signatures with 403 and a reason, before any PACS, cache or decoder work', async () => {
      await settle();
      const before = { associations: associations(), render: { ...gw.render.counters }, cached: gw.archive.cache.size };
      const good = sign(`${thumbPath()}?viewport=64,64`);
      const cases: [string, string, RegExp][] = [
        ['missing', `${thumbPath()}?viewport=64,64`, /no signature/],
        ['malformed', good.replace(/signature=[^&]+/, 'signature=x'), /43 base64url/],
        ['tampered', good.replace('viewport=64%2C64', 'viewport=640%2C640'), /does not match/],
        ['path changed', good.replace(inst?.uid ?? '', `${inst?.uid}9`), /does not match/],
        ['expired', sign(thumbPath(), Math.floor(Date.now() / 1000) - 1), /expired/],
        [
          'unknown key',
          sign(thumbPath(), undefined, 'gone', Buffer.alloc(32, 1).toString('base64')),
          /no signing key "gone"/,
        ],
      ];
      for (const [name, target, reason] of cases) {
        const r = await fetch(`${origin()}${target}`);
        expect(r.status, name).toBe(403);
        const body = (await r.json()) as { error: string; message: string };
        expect(body.error, name).toBe('DWG_BAD_SIGNATURE');
        expect(body.message, name).toMatch(reason);
      }
      await settle();
      expect(associations()).toBe(before.associations);
      expect(gw.render.counters).toEqual(before.render);
      expect(gw.archive.cache.size).toBe(before.cached);
    });

    it('does not let a signed URL open QIDO or WADO', async () => {
      const r = await fetch(`${origin()}${sign(`/dicomweb/studies/${study?.uid}/metadata`)}`);
      expect(r.status).toBe(401);
    });
  });

  describe('bearer tokens', () => {
    it('answers 401 with WWW-Authenticate: Bearer without a token, 200 with a read token', async () => {
      const none = await fetch(`${gw.base}/studies?PatientID=PAT-ASCII-1`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="dicomweb-gateway"/);
      const ok = await fetch(`${gw.base}/studies?PatientID=PAT-ASCII-1`, {
        headers: { authorization: `Bearer ${await idp.token()}` },
      });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as unknown[]).length).toBe(PATIENTS[0]?.studies.length);
    });

    it('answers 401 invalid_token for an expired or foreign token, 403 insufficient_scope without the scope', async () => {
      const expired = await fetch(`${gw.base}/studies`, {
        headers: {
          authorization: `Bearer ${await idp.token({}, { expiresIn: Math.floor(Date.now() / 1000) - 3600 })}`,
        },
      });
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      const foreign = await fetch(`${gw.base}/studies`, {
        headers: { authorization: `Bearer ${await idp.token({}, { audience: 'other' })}` },
      });
      expect(foreign.status).toBe(401);
      const writeOnly = await fetch(`${gw.base}/studies`, {
        headers: { authorization: `Bearer ${await idp.token({ scope: 'dicomweb.write' })}` },
      });
      expect(writeOnly.status).toBe(403);
      expect(writeOnly.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
      expect(writeOnly.headers.get('www-authenticate')).toMatch(/scope="dicomweb.read"/);
    });

    it('opens rendered resources too', async () => {
      const r = await fetch(`${origin()}${thumbPath()}`, { headers: { authorization: `Bearer ${await idp.token()}` } });
      expect(r.status).toBe(200);
    });
  });

  describe('minting and capabilities', () => {
    it('mints signed URLs and capabilities for a token with the sign scope only', async () => {
      const body = JSON.stringify({
        urls: [`/studies/${study?.uid}/thumbnail?viewport=32,32`],
        capabilities: [`/studies/${study?.uid}`],
        ttl: '10m',
      });
      const headers = (scope: string): Promise<Record<string, string>> =>
        idp.token({ scope }).then((t) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' }));
      expect(
        (
          await fetch(`${gw.base}/signed-urls`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json' },
          })
        ).status,
      ).toBe(401);
      expect(
        (await fetch(`${gw.base}/signed-urls`, { method: 'POST', body, headers: await headers('dicomweb.read') }))
          .status,
      ).toBe(403);
      const r = await fetch(`${gw.base}/signed-urls`, {
        method: 'POST',
        body,
        headers: await headers('dicomweb.sign'),
      });
      expect(r.status).toBe(200);
      const minted = (await r.json()) as {
        urls: { url: string; expires: string }[];
        capabilities: { token: string }[];
      };
      const thumb = await fetch(minted.urls[0]?.url as string);
      expect(thumb.status).toBe(200);
      expect(Date.parse(minted.urls[0]?.expires as string) - Date.now()).toBeLessThanOrEqual(600_000);

      const token = minted.capabilities[0]?.token as string;
      const asQuery = await fetch(`${gw.base}/studies/${study?.uid}/series?capability=${encodeURIComponent(token)}`);
      expect(asQuery.status).toBe(200); // and the capability parameter is not taken for a matching key
      const asBearer = await fetch(`${gw.base}/studies/${study?.uid}/metadata`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(asBearer.status).toBe(200);
      const elsewhere = await fetch(`${gw.base}/studies/${otherStudy?.uid}/metadata`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(elsewhere.status).toBe(403);
      expect(((await elsewhere.json()) as { message: string }).message).toMatch(/covers .* not this path/);
    });

    it('prints a working signed URL from the CLI (dicomweb-gateway sign)', async () => {
      const dir = tempDir('sign');
      const file = path.join(dir, 'gateway.yaml');
      writeFileSync(
        file,
        `http: { publicUrl: "${origin()}" }\nauth: { signingKeys: [{ kid: current, secret: "${SECRET}" }] }\n`,
      );
      const { stdout } = await run(process.execPath, [
        '--import',
        'tsx',
        'src/cli.ts',
        'sign',
        `/studies/${study?.uid}/series/${inst?.series.uid}/instances/${inst?.uid}/thumbnail?accept=image/png`,
        '--ttl',
        '5m',
        '--config',
        file,
      ]);
      const url = stdout.trim();
      expect(url.startsWith(`${origin()}/dicomweb/studies/`)).toBe(true);
      const r = await fetch(url);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/png');
    });
  });
});

describe('auth configuration', () => {
  it('refuses auth.mode required without keys or issuer, and auth.mode none on a non-loopback address without --insecure', async () => {
    // The defaults otherwise (no file, no environment): refused before anything is started.
    await expect(startGateway(configSchema.parse({ http: { host: '127.0.0.1', port: 0 } }))).rejects.toThrow(
      /nobody could get in/,
    );
    await expect(
      startGateway(configSchema.parse({ auth: { mode: 'none' }, http: { host: '0.0.0.0', port: 0 } })),
    ).rejects.toThrow(/--insecure/);
  });
});
