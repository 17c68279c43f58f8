/**
 * The Storage SCP under hostile or slow conditions: malformed and oversized PDUs are answered with A-ABORT and
 * the SCP keeps serving; a disk that lags pauses the peer instead of filling memory.
 */
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import path from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';
import { StorageScp, type StorageScpOptions } from '../src/dimse-bridge/storage-scp.js';
import { encodePdu, PduType, DICOM_APPLICATION_CONTEXT } from '../src/dimse-bridge/pdu.js';
import { SopClass } from '../src/dimse-bridge/sop-classes.js';
import { InstanceStore, type IncomingInstance, type InstanceWriter } from '../src/cache/instance-store.js';
import { DimseClient } from '../src/dimse-bridge/dimse-client.js';
import { IMPLEMENTATION } from '../src/dicom/uid.js';
import { TransferSyntax } from '../src/dicom/transfer-syntax.js';
import { run } from '../devkit/processes.js';
import { testAssociation } from './harness/associate.js';
import { metaEnd } from './harness/variants.js';
import { admitAll } from './harness/storage.js';
import { tempDir } from '../devkit/temp.js';

const scps: StorageScp[] = [];
afterEach(async () => {
  for (const s of scps.splice(0)) await s.close();
});

async function startScp(
  store: InstanceStore,
  idleTimeoutMs = 0,
  more: Partial<StorageScpOptions> = {},
): Promise<StorageScp> {
  const scp = new StorageScp({
    aeTitle: 'DICOMWEB',
    host: '127.0.0.1',
    port: 0,
    allowedCallingAeTitles: [],
    maxAssociations: 4,
    maxPduLength: 65536,
    artimTimeoutMs: 2000,
    idleTimeoutMs,
    implementation: IMPLEMENTATION,
    store,
    destination: admitAll(),
    ...more,
  });
  await scp.listen();
  scps.push(scp);
  return scp;
}

/** Sends raw bytes and returns what comes back before the SCP closes the connection. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the SCP did not close the connection'));
    }, 5000).unref();
  });
}

describe('Storage SCP robustness', () => {
  it.each([
    ['an unknown PDU type', Buffer.from([0x09, 0, 0, 0, 0, 4, 1, 2, 3, 4])],
    ['an A-ASSOCIATE-RQ claiming 100 MB', Buffer.from([0x01, 0, 0x06, 0x40, 0, 0])],
    [
      'an A-ASSOCIATE-RQ with a truncated item',
      Buffer.concat([
        Buffer.from([0x01, 0, 0, 0, 0, 76, 0, 1, 0, 0]),
        Buffer.alloc(64, 0x20),
        Buffer.from([0, 0, 0, 0, 0x10, 0, 0, 40]),
      ]),
    ],
  ])('answers %s with A-ABORT, then keeps serving', async (_what, bytes) => {
    const scp = await startScp(new InstanceStore(tempDir('robust')));
    const answer = await exchange(scp.port, bytes);
    expect(answer[0]).toBe(0x07); // A-ABORT
    expect(answer[8]).toBe(2); // source: service provider
    const echo = await run('echoscu', ['-aec', 'DICOMWEB', '127.0.0.1', String(scp.port)]);
    expect(echo.code).toBe(0);
  });

  it('pauses the sender while the disk lags: at most one chunk waits in the SCP, and every byte lands', async () => {
    let outstanding = 0;
    let maxOutstanding = 0;
    class SlowDiskStore extends InstanceStore {
      override async begin(instance: IncomingInstance): Promise<InstanceWriter> {
        const real = await super.begin(instance);
        return {
          write: async (chunk) => {
            outstanding++;
            maxOutstanding = Math.max(maxOutstanding, outstanding);
            await new Promise((r) => setTimeout(r, 2)); // a slow disk
            await real.write(chunk);
            outstanding--;
          },
          commit: () => real.commit(),
          abort: () => real.abort(),
        };
      }
    }
    const store = new SlowDiskStore(tempDir('slow'));
    const scp = await startScp(store);
    const association = await testAssociation({
      port: scp.port,
      calledAeTitle: 'DICOMWEB',
      presentationContexts: [
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] },
      ],
    });
    const uid = '1.2.826.0.1.3680043.99.3';
    const size = 8 * 1024 * 1024;
    async function* data(): AsyncGenerator<Buffer> {
      for (let i = 0; i < size / 65536; i++) yield Buffer.alloc(65536, i & 0xff);
    }
    const status = await new DimseClient(association, { responseTimeoutMs: 30_000 }).store(
      '1.2.840.10008.5.1.4.1.1.7',
      uid,
      TransferSyntax.ExplicitVRLittleEndian,
      data(),
    );
    await association.release();
    expect(status).toBe(0);
    expect(maxOutstanding).toBe(1);
    const onDisk = readFileSync(store.pathOf(uid));
    expect(onDisk.length - metaEnd(onDisk)).toBe(size);
  });

  it('aborts an association whose peer falls silent, but not while our own disk is the one that is slow', async () => {
    class StallingStore extends InstanceStore {
      override async begin(instance: IncomingInstance): Promise<InstanceWriter> {
        const real = await super.begin(instance);
        return {
          write: (chunk) => real.write(chunk),
          // The disk takes three idle periods to commit: the peer is waiting on us, not idle.
          commit: async () => {
            await new Promise((r) => setTimeout(r, 900));
            return real.commit();
          },
          abort: () => real.abort(),
        };
      }
    }
    const store = new StallingStore(tempDir('idle'));
    const scp = await startScp(store, 300);
    const association = await testAssociation({
      port: scp.port,
      calledAeTitle: 'DICOMWEB',
      presentationContexts: [
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] },
      ],
    });
    const uid = '1.2.826.0.1.3680043.99.4';
    const status = await new DimseClient(association, { responseTimeoutMs: 10_000 }).store(
      '1.2.840.10008.5.1.4.1.1.7',
      uid,
      TransferSyntax.ExplicitVRLittleEndian,
      Buffer.alloc(1024),
    );
    expect(status).toBe(0);
    // Now we say nothing: the SCP aborts within its idle period (with slack for a loaded machine).
    const closedBy = await Promise.race([
      association.closed,
      new Promise<string>((r) => setTimeout(() => r('still open'), 5000)),
    ]);
    expect(closedBy).toBeInstanceOf(Error);
    expect((closedBy as Error).message).toMatch(/aborted/);
  });

  it('removes the partial file of a peer that falls silent mid-dataset, when its idle period aborts the association', async () => {
    const dir = tempDir('silent');
    const scp = await startScp(new InstanceStore(dir), 300);
    const association = await testAssociation({
      port: scp.port,
      calledAeTitle: 'DICOMWEB',
      presentationContexts: [
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] },
      ],
    });
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    // 256 KiB of a dataset that never ends: the peer (a PACS whose host died) sends nothing more.
    const halfDataset = (async function* (): AsyncGenerator<Buffer> {
      yield Buffer.alloc(256 * 1024, 0x22);
      await stopped;
    })();
    const sent = new DimseClient(association, { responseTimeoutMs: 10_000 })
      .store(
        '1.2.840.10008.5.1.4.1.1.7',
        '1.2.826.0.1.3680043.99.42',
        TransferSyntax.ExplicitVRLittleEndian,
        halfDataset,
      )
      .catch((err: Error) => err);
    const incoming = (): string[] => readdirSync(path.join(dir, 'incoming'));
    for (let i = 0; i < 250 && incoming().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(incoming()).toHaveLength(1);
    // The SCP aborts within its idle period, and the file goes with the association.
    expect(
      await Promise.race([association.closed, new Promise<string>((r) => setTimeout(() => r('still open'), 5000))]),
    ).toBeInstanceOf(Error);
    for (let i = 0; i < 250 && incoming().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(incoming()).toEqual([]);
    stop();
    expect(await sent).toBeInstanceOf(Error);
  });

  it('aborts a C-STORE whose dataset outgrows dimse.maxDatasetBytes and deletes what was written', async () => {
    const dir = tempDir('bigds');
    const refused: string[] = [];
    const scp = await startScp(new InstanceStore(dir), 0, {
      maxDatasetBytes: 1024 * 1024,
      onRefused: (e) => refused.push(e.reason),
    });
    const association = await testAssociation({
      port: scp.port,
      calledAeTitle: 'DICOMWEB',
      presentationContexts: [
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] },
      ],
    });
    // Fragments without the last-fragment bit, for as long as the SCP reads them.
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) yield Buffer.alloc(65536, 7);
    }
    const sent = new DimseClient(association, { responseTimeoutMs: 30_000 }).store(
      '1.2.840.10008.5.1.4.1.1.7',
      '1.2.826.0.1.3680043.99.5',
      TransferSyntax.ExplicitVRLittleEndian,
      endless(),
    );
    // The SCP aborts the association; the sender sees that as an A-ABORT or a reset, whichever comes first.
    await expect(sent).rejects.toThrow();
    expect(await association.closed).toBeInstanceOf(Error);
    expect(refused).toEqual(['dataset larger than dimse.maxDatasetBytes (1048576 bytes)']);
    // The partial file goes once the abort has been handled; nothing ever reached instances/.
    for (let i = 0; i < 100 && readdirSync(path.join(dir, 'incoming')).length; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(path.join(dir, 'incoming'))).toEqual([]);
    expect(
      readdirSync(path.join(dir, 'instances')).flatMap((shard) => readdirSync(path.join(dir, 'instances', shard))),
    ).toEqual([]);
  });

  it('refuses to start an instance (A700) while free disk space is below dimse.minFreeBytes', async () => {
    const scp = await startScp(new InstanceStore(tempDir('full'), { minFreeBytes: 2 ** 60 }));
    const association = await testAssociation({
      port: scp.port,
      calledAeTitle: 'DICOMWEB',
      presentationContexts: [
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] },
      ],
    });
    const status = await new DimseClient(association, { responseTimeoutMs: 10_000 }).store(
      '1.2.840.10008.5.1.4.1.1.7',
      '1.2.826.0.1.3680043.99.6',
      TransferSyntax.ExplicitVRLittleEndian,
      Buffer.alloc(1024),
    );
    await association.release();
    expect(status).toBe(0xa700);
  });

  it('counts connections that have not associated yet: beyond maxAssociations their A-ASSOCIATE-RQs are rejected (local limit exceeded)', async () => {
    const scp = await startScp(new InstanceStore(tempDir('cap')), 0, { maxAssociations: 4, requestTimeoutMs: 5000 });
    const connect = (): Promise<net.Socket> =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: scp.port }, () => resolve(socket));
        socket.once('error', reject);
      });
    // Twice the cap may wait for their A-ASSOCIATE-RQ; the next connection is closed without a word.
    const sockets = [];
    for (let i = 0; i < 8; i++) sockets.push(await connect());
    const ninth = await connect();
    expect(
      await new Promise((resolve) => {
        ninth.once('data', () => resolve('data'));
        ninth.once('close', () => resolve('closed'));
      }),
    ).toBe('closed');
    const rq = encodePdu({
      type: PduType.AssociateRQ,
      protocolVersion: 1,
      calledAeTitle: 'DICOMWEB',
      callingAeTitle: 'FLOOD',
      applicationContext: DICOM_APPLICATION_CONTEXT,
      presentationContexts: [
        { id: 1, abstractSyntax: SopClass.Verification, transferSyntaxes: [TransferSyntax.ImplicitVRLittleEndian] },
      ],
      userInformation: {
        maxPduLength: 16384,
        implementationClassUid: IMPLEMENTATION.classUid,
        implementationVersionName: IMPLEMENTATION.versionName,
        roleSelections: [],
        extendedNegotiations: [],
        otherItems: [],
      },
    });
    const answers = await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<Buffer>((resolve) => {
            socket.once('data', (b: Buffer) => resolve(b));
            socket.write(rq);
          }),
      ),
    );
    const accepted = answers.filter((a) => a[0] === PduType.AssociateAC);
    const rejected = answers.filter((a) => a[0] === PduType.AssociateRJ);
    expect(accepted.length).toBe(4);
    expect(rejected.length).toBe(4);
    // A-ASSOCIATE-RJ: result 2 (transient), source 3 (presentation), reason 2 (local limit exceeded).
    for (const rj of rejected) expect([rj[7], rj[8], rj[9]]).toEqual([2, 3, 2]);
    for (const socket of sockets) socket.destroy();
  });
});
