/**
 * What the application log holds (docs/security.md): the gateway runs as the command does (a process, its JSON
 * log read), in front of dcmqrscp, with every kind of credential configured from the environment — signing keys
 * from a *_FILE, OAuth keys and API keys as JSON — and used: a signed URL, a capability, an OAuth token, an API
 * key, an access_token query parameter and a PatientName search (and a Redis URL with a password). No credential and no search value may appear in
 * any line; each request's line still says what it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { freePort } from '../devkit/ports.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { allInstances, PATIENTS } from '../src/samples/catalog.js';
import { signUrl } from '../src/auth/signed-url.js';
import { mintCapability } from '../src/auth/capability.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { startIssuer, type TestIssuer } from './harness/issuer.js';
import { gatewayProcessInFrontOfDcmqrscp, type GatewayProcess } from './harness/gateway-process.js';
import { tempDir } from '../devkit/temp.js';

const SECRET = Buffer.alloc(32, 23);

const REDIS_PASSWORD = `redis-${randomBytes(16).toString('hex')}`;

describe('credentials and patient data in the log', () => {
  let gw: GatewayProcess;
  let idp: TestIssuer;
  const apiKey = createApiKey('uploader');
  const patient = PATIENTS[0];
  const study = patient?.studies[0];
  const inst = [...allInstances()].find((i) => i.study.uid === study?.uid && i.series.modality === 'CT');
  const origin = (): string => gw.base.replace(/\/dicomweb$/, '');
  const completed = (response: Response): Promise<unknown> => {
    const id = response.headers.get('x-request-id');
    return gw.logged((l) => l.reqId === id && l.msg === 'request completed');
  };

  beforeAll(async () => {
    idp = await startIssuer();
    const keysFile = path.join(tempDir('log-keys'), 'signing-keys.json');
    writeFileSync(keysFile, `${JSON.stringify([{ kid: 'k1', secret: SECRET.toString('base64') }])}\n`, { mode: 0o600 });
    gw = await gatewayProcessInFrontOfDcmqrscp({
      DICOMWEB_AUTH_MODE: 'required',
      DICOMWEB_AUTH_SIGNING_KEYS_FILE: keysFile,
      DICOMWEB_AUTH_OAUTH_ISSUER: idp.issuer,
      DICOMWEB_AUTH_OAUTH_AUDIENCE: idp.audience,
      DICOMWEB_AUTH_OAUTH_KEYS: JSON.stringify([{ kid: 'rsa-1', key: JSON.stringify(idp.publicJwk('rsa-1')) }]),
      DICOMWEB_AUTH_API_KEYS: JSON.stringify([{ id: 'uploader', sha256: apiKey.sha256, scopes: ['read'] }]),
      DICOMWEB_PACS_RETRIEVE: 'get',
      // A Redis URL with a password, at a port where nothing listens: the gateway says Redis is unreachable.
      DICOMWEB_REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${await freePort()}`,
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await idp?.close();
  });

  it('logs each request without its credential or its search values', async () => {
    const expires = Math.floor(Date.now() / 1000) + 600;
    const thumbnail = signUrl(
      `/dicomweb/studies/${study?.uid}/series/${inst?.series.uid}/instances/${inst?.uid}/thumbnail`,
      { kid: 'k1', key: SECRET, expires },
    );
    const signature = new URL(thumbnail, origin()).searchParams.get('signature') ?? '';
    const capability = mintCapability('/dicomweb', { kid: 'k1', key: SECRET, expires });
    const token = await idp.token();
    const name = patient?.name.split('^')[0]?.toLowerCase() ?? '';
    expect(name.length).toBeGreaterThan(2);

    const responses = [
      await fetch(`${origin()}${thumbnail}`),
      await fetch(`${gw.base}/studies?capability=${capability}`),
      await fetch(`${gw.base}/studies?PatientName=${name}*`, { headers: { authorization: `Bearer ${token}` } }),
      await fetch(`${gw.base}/studies?PatientID=${patient?.id ?? ''}`, {
        headers: { authorization: `Bearer ${apiKey.key}` },
      }),
      await fetch(`${gw.base}/studies?access_token=${token}`),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 401]);
    for (const r of responses) {
      await r.arrayBuffer();
      await completed(r);
    }

    const all = gw.lines.map((l) => l.raw).join('\n');
    for (const secret of [
      signature,
      capability,
      token,
      apiKey.key,
      apiKey.key.split('.').pop() ?? '',
      SECRET.toString('base64'),
      REDIS_PASSWORD,
    ]) {
      expect(secret.length).toBeGreaterThan(20);
      expect(all).not.toContain(secret);
    }
    expect(all).toContain('Redis cannot be reached');
    expect(all.toLowerCase()).not.toContain(`${name}*`);
    expect(all).not.toContain(patient?.id ?? 'no id');
    // The request lines still say what each request was.
    const urls = gw.lines.filter((l) => l.msg === 'incoming request').map((l) => (l.req as { url: string }).url);
    expect(urls).toContain('/dicomweb/studies?capability=[REDACTED]');
    expect(urls).toContain('/dicomweb/studies?PatientName=…');
    expect(urls).toContain('/dicomweb/studies?access_token=[REDACTED]');
    expect(urls.some((u) => u.endsWith('/thumbnail?expires=…&kid=…&signature=[REDACTED]'))).toBe(true);
  });
});

describe('request lines turned down (log.requests: false)', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await gatewayProcessInFrontOfDcmqrscp({
      DICOMWEB_LOG_REQUESTS: 'false',
      DICOMWEB_LOG_QUERY_VALUES: 'true',
      DICOMWEB_LOG_LEVEL: 'debug',
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('logs no per-request line, while the association a search opens is still logged', async () => {
    const search = await fetch(`${gw.base}/studies?PatientID=nobody`);
    expect(search.status).toBe(200);
    await search.arrayBuffer();
    const id = search.headers.get('x-request-id');
    await gw.logged((l) => l.reqId === id && l.msg === 'association established');
    // The association's release is logged after the answer: wait for a line logged after it, then look.
    const after = await fetch(`${gw.base}/studies?limit=0`);
    expect(after.status).toBe(400);
    const badId = after.headers.get('x-request-id');
    await gw.logged((l) => l.reqId === badId);
    const refused = gw.lines.find((l) => l.reqId === badId);
    expect(refused?.msg).toMatch(/limit.*asks for no matches/);
    expect(gw.lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toEqual([]);
  });
});
