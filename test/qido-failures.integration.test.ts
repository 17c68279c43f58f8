/**
 * What QIDO-RS answers when the PACS is down, refuses, hangs, fails or is saturated: 502/503/504 with a JSON
 * reason, never a hang and never a 200 with an empty body. Peers: dcmqrscp (real rejection), a closed port,
 * a TCP black hole, and scripted SCPs built on our own acceptor.
 */
import { describe, it, expect, afterEach, vi } from 'vitest';
import { startTestGateway } from './harness/gateway.js';
import { startDcmqrscp } from '../devkit/pacs.js';
import { startFakeScp, isFind, isEcho } from './harness/fake-scp.js';
import { startBlackHole } from '../devkit/black-hole.js';
import { freePort } from '../devkit/ports.js';
import { Status } from '../src/dicom/status.js';
import { Dataset } from '../src/dicom/dataset.js';
import { Tags } from '../src/dicom/tag.js';
import { writeDataset } from '../src/dicom/dataset-codec.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function gatewayFor(port: number, overrides: Parameters<typeof startTestGateway>[1] = {}, aeTitle = 'FAKE') {
  const gw = await startTestGateway({ aeTitle, host: '127.0.0.1', port }, overrides);
  cleanups.push(() => gw.close());
  return gw;
}

async function getJson(url: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const match = (uid: string): Buffer =>
  writeDataset(
    new Dataset()
      .setText(Tags.QueryRetrieveLevel, 'STUDY')
      .setText(Tags.StudyInstanceUID, uid)
      .setText(Tags.PatientID, 'SLOW'),
    { explicitVR: true, littleEndian: true },
  );

describe('QIDO-RS streaming', () => {
  it('sends the first match to the client before a slow PACS has finished the C-FIND', async () => {
    const events: string[] = [];
    let release: () => void = () => {};
    const finalMayGo = new Promise<void>((r) => {
      release = r;
    });
    const scp = await startFakeScp((cmd, reply) => {
      if (!isFind(cmd)) return;
      void (async () => {
        await reply(Status.Pending, {}, match('1.2.3.1'));
        await reply(Status.Pending, {}, match('1.2.3.2'));
        await finalMayGo; // the PACS keeps the search open until the client has seen data
        events.push('pacs: final response');
        await reply(Status.Success);
      })();
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port, { qido: { headerHoldMs: 50 } });
    const res = await fetch(`${gw.base}/studies`);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('1.2.3.1')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    events.push('client: first match');
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(events).toEqual(['client: first match', 'pacs: final response']);
    expect((JSON.parse(text) as unknown[]).length).toBe(2);
  });

  it('cuts the connection (no valid short JSON) when the PACS fails after the response started', async () => {
    const scp = await startFakeScp((cmd, reply, association) => {
      if (!isFind(cmd)) return;
      void (async () => {
        await reply(Status.Pending, {}, match('1.2.3.1'));
        await new Promise((r) => setTimeout(r, 300));
        association.abort();
      })();
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port, { qido: { headerHoldMs: 50 } });
    const res = await fetch(`${gw.base}/studies`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });
});

describe('QIDO-RS failure mapping', () => {
  it('says the answer is incomplete when the PACS ends a C-FIND with Cancel (FE00) it was not asked for: 299 with matches, 502 without', async () => {
    let withMatches = true;
    const scp = await startFakeScp((cmd, reply) => {
      if (!isFind(cmd)) return;
      void (async () => {
        if (withMatches) {
          await reply(Status.Pending, {}, match('1.2.3.1'));
          await reply(Status.Pending, {}, match('1.2.3.2'));
        }
        await reply(Status.Cancel);
      })();
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port);
    const partial = await fetch(`${gw.base}/studies`);
    expect(partial.status).toBe(200);
    expect(((await partial.json()) as unknown[]).length).toBe(2);
    expect(partial.headers.get('warning')).toMatch(/^299 .*Cancel, FE00.*may be incomplete/);
    withMatches = false;
    const none = await getJson(`${gw.base}/studies`);
    expect(none.status).toBe(502);
    expect(none.body.error).toBe('DWG_PACS_FAILURE');
    expect(none.body.dimseStatus).toBe('0xFE00');
  });

  /** A P-DATA-TF of one command PDV on presentation context `pcId`, carrying `data` as the command set. */
  const commandPdu = (pcId: number, data: Buffer): Buffer => {
    const item = Buffer.concat([Buffer.from([0, 0, 0, 0, pcId, 0x03]), data]);
    item.writeUInt32BE(data.length + 2, 0);
    const head = Buffer.from([0x04, 0, 0, 0, 0, 0]);
    head.writeUInt32BE(item.length, 2);
    return Buffer.concat([head, item]);
  };
  // (0000,0000) UL claiming far more bytes than follow: a command set that cannot be decoded.
  const brokenCommand = Buffer.from([0, 0, 0, 0, 0xf0, 0xff, 0xff, 0x0f, 1, 2, 3, 4]);
  it.each([
    ['an unknown PDU type', (): Buffer => Buffer.from([0x09, 0, 0, 0, 0, 4, 1, 2, 3, 4]), /unrecognised PDU type 0x9/],
    [
      'a command set that does not parse',
      (pcId: number): Buffer => commandPdu(pcId, brokenCommand),
      /undecodable command set/,
    ],
    [
      'a P-DATA-TF claiming 64 MiB',
      (): Buffer => Buffer.from([0x04, 0, 0x04, 0, 0, 0]),
      /67108864 bytes, over the limit/,
    ],
  ])('answers 502 DWG_PACS_PROTOCOL with the reason when the PACS sends %s', async (_what, bytes, reason) => {
    const scp = await startFakeScp((cmd, _reply, _association, _identifier, pcId, writeRaw) => {
      if (isFind(cmd)) writeRaw?.(bytes(pcId ?? 1));
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port);
    const r = await getJson(`${gw.base}/studies`);
    expect(r.status).toBe(502);
    expect(r.body.error).toBe('DWG_PACS_PROTOCOL');
    expect(String(r.body.message)).toMatch(reason);
  });

  it('answers 502 when nothing listens at the PACS address, and /readyz says not ready', async () => {
    const gw = await gatewayFor(await freePort());
    const r = await getJson(`${gw.base}/studies`);
    expect(r.status).toBe(502);
    expect(r.body.error).toBe('DWG_PACS_UNREACHABLE');
    expect(String(r.body.message)).toMatch(/ECONNREFUSED/);
    const ready = await getJson(`${gw.httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body.error).toBe('DWG_NOT_READY');
  });

  it('answers 502 with the reject reason when the PACS rejects the association (dcmqrscp, wrong called AE)', async () => {
    const pacs = await startDcmqrscp({ loadFixtures: false });
    cleanups.push(() => pacs.stop());
    const gw = await gatewayFor(pacs.port, {}, 'NOT-ITS-AE');
    const r = await getJson(`${gw.base}/studies`);
    expect(r.status).toBe(502);
    expect(r.body.error).toBe('DWG_PACS_REJECTED');
    expect(r.body.reject).toEqual({ result: 1, source: 1, reason: 7 });
  });

  it('answers 504 when the PACS accepts TCP but never answers the association request', async () => {
    const hole = await startBlackHole();
    cleanups.push(() => hole.close());
    const gw = await gatewayFor(hole.port, { pacs: { artimTimeoutMs: 300 } });
    const r = await getJson(`${gw.base}/studies`);
    expect(r.status).toBe(504);
    expect(r.body.error).toBe('DWG_PACS_TIMEOUT');
    expect(r.body.phase).toBe('association');
  });

  it('answers 504 when the PACS never answers the C-FIND', async () => {
    const scp = await startFakeScp(() => {
      /* silent */
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port, { pacs: { responseTimeoutMs: 300 } });
    const r = await getJson(`${gw.base}/studies`);
    expect(r.status).toBe(504);
    expect(r.body.phase).toBe('response');
  });

  it('answers 504 within pacs.searchTimeoutMs when a PACS goes silent mid-search, and cancels its C-FIND', async () => {
    const commands: number[] = [];
    const scp = await startFakeScp((cmd, reply) => {
      commands.push(cmd.commandField);
      // One match, then nothing: neither the final response nor a failure (its host hangs).
      if (isFind(cmd)) void reply(Status.Pending, {}, match('1.2.826.0.1.3680043.99.60'));
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port, { pacs: { searchTimeoutMs: 400, responseTimeoutMs: 30_000 } });
    const started = Date.now();
    const r = await getJson(`${gw.base}/studies`);
    const took = Date.now() - started;
    expect(r.status).toBe(504);
    expect(r.body).toMatchObject({ error: 'DWG_PACS_TIMEOUT', phase: 'deadline' });
    expect(String(r.body.message)).toMatch(
      /^PACS FAKE did not answer in time: no complete answer to the search within 400 ms/,
    );
    // Within its deadline, not the 30 s of pacs.responseTimeoutMs (slack for a loaded machine).
    expect(took).toBeLessThan(5_000);
    // The C-FIND was cancelled (C-CANCEL-RQ, 0FFF), not left running at the PACS.
    await vi.waitFor(() => expect(commands).toContain(0x0fff), { timeout: 5_000 });
  });

  it.each([
    [Status.OutOfResources, '0xA700'],
    [Status.IdentifierDoesNotMatchSOPClass, '0xA900'],
    [0xc001, '0xC001'],
  ])('answers 502 with the DIMSE status when the C-FIND fails with %s', async (status, hex) => {
    const scp = await startFakeScp((cmd, reply) => {
      if (isFind(cmd)) void reply(status, { errorComment: 'scripted failure' });
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port);
    const r = await getJson(`${gw.base}/studies?PatientID=X`);
    expect(r.status).toBe(502);
    expect(r.body.error).toBe('DWG_PACS_FAILURE');
    expect(r.body.dimseStatus).toBe(hex);
    expect(r.body.errorComment).toBe('scripted failure');
  });

  it('answers 503 with Retry-After when every association is busy and the queue is full', async () => {
    // The first search holds the only association (the SCP never answers it); the second finds no room.
    const scp = await startFakeScp(() => {
      /* silent */
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port, { pacs: { maxAssociations: 1, queueLimit: 0, responseTimeoutMs: 2000 } });
    const first = fetch(`${gw.base}/studies`);
    await new Promise((r) => setTimeout(r, 200));
    const second = await getJson(`${gw.base}/studies`);
    expect(second.status).toBe(503);
    expect(second.body.error).toBe('DWG_PACS_BUSY');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(gw.archive.peer.poolStats().refused).toBe(1); // what the metrics report (docs/operations.md)
    expect((await first).status).toBe(504);
  });

  it('answers 503 when a queued request waits longer than the queue timeout', async () => {
    const scp = await startFakeScp(() => {
      /* silent */
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port, {
      pacs: { maxAssociations: 1, queueLimit: 4, queueTimeoutMs: 200, responseTimeoutMs: 1500 },
    });
    const first = fetch(`${gw.base}/studies`);
    await new Promise((r) => setTimeout(r, 100));
    const second = await getJson(`${gw.base}/studies`);
    expect(second.status).toBe(503);
    expect(String(second.body.message)).toMatch(/within 200 ms/);
    expect(gw.archive.peer.poolStats().refused).toBe(1);
    await first;
  });

  it('reuses one association for consecutive searches', async () => {
    const scp = await startFakeScp((cmd, reply) => {
      if (isFind(cmd) || isEcho(cmd)) void reply(Status.Success);
    });
    cleanups.push(() => scp.close());
    const gw = await gatewayFor(scp.port);
    for (let i = 0; i < 5; i++) expect((await fetch(`${gw.base}/studies`)).status).toBe(200);
    expect(scp.associations).toBe(1);
  });
});
