/**
 * Two tenants in one gateway, each with its own PACS (two dcmqrscp with different studies), Storage SCP, cache,
 * signing key and token audience. Every credential of one tenant is tried on the other, in both directions.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway, dimseArchiveOf } from './harness/gateway.js';
import { startIssuer, type TestIssuer } from './harness/issuer.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { imagingFixtureFiles, fixture } from './harness/imaging.js';
import { IMAGING_STUDY } from '../src/samples/imaging.js';
import { allInstances, PATIENTS } from '../src/samples/catalog.js';
import { signUrl } from '../src/auth/signed-url.js';
import { mintCapability } from '../src/auth/capability.js';
import { tempDir } from '../devkit/temp.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const SECRET_A = Buffer.alloc(32, 0xa1).toString('base64');
const SECRET_B = Buffer.alloc(32, 0xb2).toString('base64');

describe('tenants', () => {
  let pacsA: TestPacs;
  let pacsB: TestPacs;
  let idp: TestIssuer;
  let gw: Gateway;
  let auditFile: string;
  const scpPortB = { value: 0 };
  const studyA = PATIENTS[0]?.studies[0];
  const instA = [...allInstances()].find((i) => i.study.uid === studyA?.uid && i.series.modality === 'CT');
  const instB = fixture('ct-signed');
  const baseA = (): string => gw.base;
  const baseB = (): string => `${gw.base}/tenants/b`;
  const origin = (): string => gw.base.replace(/\/dicomweb$/, '');
  const thumbA = `/dicomweb/studies/${studyA?.uid}/series/${instA?.series.uid}/instances/${instA?.uid}/thumbnail`;
  const thumbB = `/dicomweb/tenants/b/studies/${IMAGING_STUDY.uid}/series/${instB.seriesUid}/instances/${instB.uid}/thumbnail`;
  const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600;
  const key = (secret: string): Buffer => Buffer.from(secret, 'base64');

  beforeAll(async () => {
    idp = await startIssuer('tenant-a');
    scpPortB.value = await freePort();
    pacsA = await startDcmqrscp();
    const files = imagingFixtureFiles();
    pacsB = await startDcmqrscp({
      files: [files.get(instB) as string, files.get(fixture('mr-12bit')) as string],
      moveDestination: { aeTitle: 'TENANTB', host: '127.0.0.1', port: scpPortB.value },
    });
    auditFile = path.join(tempDir('tenant-audit'), 'audit.jsonl');
    gw = await startTestGateway(pacsA, {
      pacs: { retrieve: 'get' },
      // Same kid in both tenants on purpose: only the secret tells them apart.
      auth: {
        mode: 'required',
        signingKeys: [{ kid: 'k1', secret: SECRET_A }],
        oauth: { issuer: idp.issuer, audience: 'tenant-a', jwksUrl: idp.jwksUrl },
      },
      audit: { file: auditFile },
      tenants: {
        b: {
          pacs: { aeTitle: pacsB.aeTitle, host: pacsB.host, port: pacsB.port, retrieve: 'move' },
          dimse: { aeTitle: 'TENANTB', host: '127.0.0.1', port: scpPortB.value },
          auth: {
            mode: 'required',
            signingKeys: [{ kid: 'k1', secret: SECRET_B }],
            oauth: { issuer: idp.issuer, audience: 'tenant-b', jwksUrl: idp.jwksUrl },
          },
          cache: { dir: tempDir('cache-b') },
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await pacsA?.stop();
    await pacsB?.stop();
    await idp?.close();
  });

  const tokenFor = (audience: string): Promise<string> =>
    idp.token({ scope: 'dicomweb.read dicomweb.sign', sub: `client-of-${audience}` }, { audience });
  const studiesOf = async (base: string, token: string): Promise<string[]> => {
    const r = await fetch(`${base}/studies?includefield=0020000D`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    return ((await r.json()) as { '0020000D': { Value: string[] } }[]).map((s) => s['0020000D'].Value[0] as string);
  };

  it("searches each tenant's own PACS", async () => {
    const a = await studiesOf(baseA(), await tokenFor('tenant-a'));
    const b = await studiesOf(baseB(), await tokenFor('tenant-b'));
    expect(a).toContain(studyA?.uid);
    expect(a).not.toContain(IMAGING_STUDY.uid);
    expect(b).toEqual([IMAGING_STUDY.uid]);
  });

  it('refuses a bearer token issued for one tenant at the other, both ways', async () => {
    for (const [base, audience] of [
      [baseA(), 'tenant-b'],
      [baseB(), 'tenant-a'],
    ] as const) {
      const r = await fetch(`${base}/studies`, { headers: { authorization: `Bearer ${await tokenFor(audience)}` } });
      expect(r.status, `${audience} at ${base}`).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/invalid_token/);
      expect(((await r.json()) as { message: string }).message).toMatch(/aud/);
    }
  });

  it('refuses a signed URL of one tenant at the other, both ways, and serves each at home', async () => {
    expect(
      (await fetch(`${origin()}${signUrl(thumbA, { kid: 'k1', key: key(SECRET_A), expires: inAnHour() })}`)).status,
    ).toBe(200);
    expect(
      (await fetch(`${origin()}${signUrl(thumbB, { kid: 'k1', key: key(SECRET_B), expires: inAnHour() })}`)).status,
    ).toBe(200);
    // A's key signing B's path (and B's signing A's): same kid, wrong secret.
    for (const [target, secret] of [
      [thumbB, SECRET_A],
      [thumbA, SECRET_B],
    ] as const) {
      const r = await fetch(`${origin()}${signUrl(target, { kid: 'k1', key: key(secret), expires: inAnHour() })}`);
      expect(r.status, target).toBe(403);
      expect(((await r.json()) as { error: string }).error).toBe('DWG_BAD_SIGNATURE');
    }
    // A signature of A's URL moved onto the same resource path under B.
    const signedA = signUrl(thumbA.replace('/dicomweb/', '/dicomweb/tenants/b/'), {
      kid: 'k1',
      key: key(SECRET_A),
      expires: inAnHour(),
    });
    expect((await fetch(`${origin()}${signedA}`)).status).toBe(403);
  });

  it('refuses a capability of one tenant at the other, even one whose prefix covers the whole default tenant', async () => {
    const wholeA = mintCapability('/dicomweb', { kid: 'k1', key: key(SECRET_A), expires: inAnHour() });
    expect(
      (await fetch(`${baseA()}/studies/${studyA?.uid}/metadata`, { headers: { authorization: `Bearer ${wholeA}` } }))
        .status,
    ).toBe(200);
    const atB = await fetch(`${baseB()}/studies/${IMAGING_STUDY.uid}/metadata`, {
      headers: { authorization: `Bearer ${wholeA}` },
    });
    expect(atB.status).toBe(403);
    expect(((await atB.json()) as { error: string }).error).toBe('DWG_BAD_CAPABILITY');
    const studyB = mintCapability(`/dicomweb/tenants/b/studies/${IMAGING_STUDY.uid}`, {
      kid: 'k1',
      key: key(SECRET_B),
      expires: inAnHour(),
    });
    expect((await fetch(`${baseB()}/studies/${IMAGING_STUDY.uid}/metadata?capability=${studyB}`)).status).toBe(200);
    expect((await fetch(`${baseA()}/studies/${IMAGING_STUDY.uid}/metadata?capability=${studyB}`)).status).toBe(403);
  });

  it("refuses a capability naming another tenant's paths even when signed with the right key", async () => {
    // The default tenant's key over a prefix in B's subtree: the default tenant does not answer for it,
    // and B does not know the key.
    const intoB = mintCapability('/dicomweb/tenants/b', { kid: 'k1', key: key(SECRET_A), expires: inAnHour() });
    expect((await fetch(`${baseB()}/studies?capability=${intoB}`)).status).toBe(403);
    const minted = await fetch(`${baseA()}/signed-urls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenFor('tenant-a')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ capabilities: ['/dicomweb/tenants/b/studies'] }),
    });
    expect(minted.status).toBe(400);
    expect(((await minted.json()) as { message: string }).message).toMatch(/belongs to other tenants/);
  });

  it('keeps caches apart: what one tenant retrieved is not served by the other', async () => {
    const tokenA = await tokenFor('tenant-a');
    const tokenB = await tokenFor('tenant-b');
    const tenantB = gw.tenants.get('b');
    expect(tenantB).toBeDefined();
    const a = await fetch(`${baseA()}/studies/${studyA?.uid}/series/${instA?.series.uid}/instances/${instA?.uid}`, {
      headers: {
        authorization: `Bearer ${tokenA}`,
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
      },
    });
    expect(a.status).toBe(200);
    await a.arrayBuffer();
    expect(gw.archive.cache.get(instA?.uid ?? '')).toBeDefined();
    // B's PACS does not have A's instance, and B's cache does not either.
    const fromB = await fetch(`${baseB()}/studies/${studyA?.uid}/series/${instA?.series.uid}/instances/${instA?.uid}`, {
      headers: {
        authorization: `Bearer ${tokenB}`,
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
      },
    });
    expect(fromB.status).toBe(404);
    expect(dimseArchiveOf(tenantB).cache.get(instA?.uid ?? '')).toBeUndefined();
    expect(existsSync(dimseArchiveOf(tenantB).cache.store.pathOf(instA?.uid ?? '') ?? '')).toBe(false);
    // B's instance arrives by C-MOVE at B's own Storage SCP and lands in B's cache only.
    const b = await fetch(`${baseB()}/studies/${IMAGING_STUDY.uid}/series/${instB.seriesUid}/instances/${instB.uid}`, {
      headers: {
        authorization: `Bearer ${tokenB}`,
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
      },
    });
    expect(b.status).toBe(200);
    await b.arrayBuffer();
    expect(dimseArchiveOf(tenantB).cache.get(instB.uid)).toBeDefined();
    expect(gw.archive.cache.get(instB.uid)).toBeUndefined();
    const fromA = await fetch(
      `${baseA()}/studies/${IMAGING_STUDY.uid}/series/${instB.seriesUid}/instances/${instB.uid}`,
      {
        headers: {
          authorization: `Bearer ${tokenA}`,
          accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
        },
      },
    );
    expect(fromA.status).toBe(404);
  });

  it('answers readiness per tenant and names the tenant in audit records', async () => {
    expect((await fetch(`${origin()}/readyz/tenants/b`)).status).toBe(200);
    expect((await fetch(`${origin()}/readyz/tenants/nope`)).status).toBe(404);
    await fetch(`${baseB()}/studies`, { headers: { authorization: `Bearer ${await tokenFor('tenant-b')}` } });
    await new Promise((r) => setTimeout(r, 100));
    const records = readFileSync(auditFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { who: { tenant: string }; request: { path: string } });
    const bRecords = records.filter((r) => r.request.path.startsWith('/dicomweb/tenants/b/'));
    expect(bRecords.length).toBeGreaterThan(0);
    expect(new Set(bRecords.map((r) => r.who.tenant))).toEqual(new Set(['b']));
    expect(
      records.filter((r) => !r.request.path.startsWith('/dicomweb/tenants/')).every((r) => r.who.tenant === 'default'),
    ).toBe(true);
  });

  it('mints a working signed URL for a tenant from the CLI (sign --tenant)', async () => {
    const dir = tempDir('sign-tenant');
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      [
        `http: { publicUrl: "${origin()}" }`,
        `auth: { signingKeys: [{ kid: k1, secret: "${SECRET_A}" }] }`,
        `tenants: { b: { pacs: { host: 127.0.0.1, port: 1 }, dimse: { port: 0 }, cache: { dir: "${dir}/b" }, auth: { signingKeys: [{ kid: k1, secret: "${SECRET_B}" }] } } }`,
      ].join('\n'),
    );
    const relative = thumbB.replace('/dicomweb/tenants/b', '');
    const { stdout } = await run(process.execPath, [
      '--import',
      'tsx',
      'src/cli.ts',
      'sign',
      relative,
      '--tenant',
      'b',
      '--ttl',
      '5m',
      '--config',
      file,
    ]);
    const url = stdout.trim();
    expect(url.startsWith(`${origin()}/dicomweb/tenants/b/studies/`)).toBe(true);
    expect((await fetch(url)).status).toBe(200);
    await expect(
      run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'sign', relative, '--tenant', 'c', '--config', file]),
    ).rejects.toThrow(/exited with 2[\s\S]*--tenant c: no such tenant/);
  });
});
