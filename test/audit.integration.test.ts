/**
 * Audit records (IHE ATNA semantics, PS3.15 A.5) for searches, retrievals, renderings and refused credentials,
 * as JSON lines and as RFC 5424 syslog messages over TCP to a collector on loopback.
 */
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { allInstances } from '../src/samples/catalog.js';
import { signUrl } from '../src/auth/signed-url.js';
import type { AuditRecord } from '../src/audit/audit.js';
import { tempDir } from '../devkit/temp.js';

describe('audit trail', () => {
  let pacs: TestPacs | undefined;
  let gw: Awaited<ReturnType<typeof startTestGateway>> | undefined;
  let collector: net.Server | undefined;
  afterEach(async () => {
    await gw?.close();
    await pacs?.stop();
    collector?.close();
    gw = undefined;
    pacs = undefined;
    collector = undefined;
  });

  it('records who did what to which study, with outcomes, to a file and to syslog', async () => {
    const received: string[] = [];
    collector = net.createServer((socket) => socket.on('data', (c: Buffer) => received.push(c.toString('utf8'))));
    await new Promise<void>((r) => collector?.listen(0, '127.0.0.1', r));
    const file = path.join(tempDir('audit'), 'audit.jsonl');
    const secret = Buffer.alloc(32, 5).toString('base64');
    pacs = await startDcmqrscp();
    gw = await startTestGateway(pacs, {
      pacs: { retrieve: 'get' },
      auth: { mode: 'required', signingKeys: [{ kid: 'k1', secret }] },
      audit: {
        file,
        syslog: { host: '127.0.0.1', port: (collector.address() as AddressInfo).port, tls: false, appName: 'dwg-test' },
      },
    });
    const inst = [...allInstances()].find((i) => i.series.modality === 'CT');
    const thumb = `/dicomweb/studies/${inst?.study.uid}/series/${inst?.series.uid}/instances/${inst?.uid}/thumbnail`;
    const origin = gw.base.replace(/\/dicomweb$/, '');
    const signed = signUrl(thumb, {
      kid: 'k1',
      key: Buffer.from(secret, 'base64'),
      expires: Math.floor(Date.now() / 1000) + 60,
    });
    expect((await fetch(`${origin}${signed}`)).status).toBe(200);
    expect((await fetch(`${origin}${signed.replace('kid=k1', 'kid=k2')}`)).status).toBe(403);
    expect((await fetch(`${gw.base}/studies?PatientID=PAT-ASCII-1`)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));

    const records = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(records).toHaveLength(3);
    const [viewed, alert, unauthenticated] = records as [AuditRecord, AuditRecord, AuditRecord];
    expect(viewed).toMatchObject({
      event: { id: '110103', name: 'DICOM Instances Accessed' },
      outcome: 0,
      who: { via: 'signed-url', subject: 'key:k1', address: '127.0.0.1', tenant: 'default' },
      what: { study: inst?.study.uid, series: inst?.series.uid, instance: inst?.uid },
      request: { method: 'GET', path: thumb, status: 200 },
    });
    expect(viewed.what.query).toBeUndefined(); // credentials are not written to the trail
    expect(alert).toMatchObject({
      event: { id: '110113', name: 'Security Alert' },
      outcome: 4,
      who: { subject: 'unauthenticated' },
      request: { status: 403 },
      reason: expect.stringMatching(/no signing key "k2"/),
    });
    expect(unauthenticated).toMatchObject({
      event: { id: '110113' },
      request: { status: 401 },
      what: { query: 'PatientID=PAT-ASCII-1' },
    });

    // The same three as RFC 5424 messages, octet-counted: "<len> <PRI>1 TIMESTAMP HOST APP PROCID MSGID - BOM{json}".
    const stream = received.join('');
    const frames: string[] = [];
    for (let at = 0; at < stream.length;) {
      const space = stream.indexOf(' ', at);
      const length = Number(stream.slice(at, space));
      const bytes = Buffer.from(stream.slice(space + 1), 'utf8')
        .subarray(0, length)
        .toString('utf8');
      frames.push(bytes);
      at = space + 1 + bytes.length;
    }
    expect(frames).toHaveLength(3);
    expect(frames[0]).toMatch(/^<85>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ dwg-test \d+ ATNA-110103 - \ufeff\{/);
    expect(frames[1]).toMatch(/^<84>1 .* ATNA-110113 - /);
    expect(JSON.parse((frames[1] as string).split('\ufeff')[1] as string)).toEqual(alert);
  });

  it("takes each request's ATNA event from what its route declares: query, accessed, transferred, authentication", async () => {
    const file = path.join(tempDir('audit'), 'audit.jsonl');
    const secret = Buffer.alloc(32, 6).toString('base64');
    pacs = await startDcmqrscp();
    gw = await startTestGateway(pacs, {
      pacs: { retrieve: 'get' },
      auth: { mode: 'none', signingKeys: [{ kid: 'k1', secret }] },
      audit: { file },
    });
    const inst = [...allInstances()].find((i) => i.series.modality === 'CT');
    const series = `${gw.base}/studies/${inst?.study.uid}/series/${inst?.series.uid}`;
    const requests: [string, RequestInit?][] = [
      [`${gw.base}/studies?PatientID=PAT-ASCII-1`],
      [`${series}/metadata`],
      [`${series}/instances/${inst?.uid}`],
      [`${series}/instances/${inst?.uid}/rendered`],
      [
        `${gw.base}/signed-urls`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ urls: [`/studies/${inst?.study.uid}/thumbnail`], ttl: '1m' }),
        },
      ],
    ];
    for (const [url, init] of requests) {
      const r = await fetch(url, init);
      await r.arrayBuffer();
      expect(r.status, url).toBeLessThan(300);
    }
    await new Promise((r) => setTimeout(r, 300));
    const events = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as AuditRecord).event.id);
    expect(events).toEqual(['110112', '110103', '110104', '110103', '110114']);
  });
});
