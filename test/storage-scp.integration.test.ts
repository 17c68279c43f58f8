/**
 * The embedded Storage SCP against DCMTK's storescu/echoscu, and our SCU (C-STORE, C-FIND cancel, C-MOVE)
 * against DCMTK's storescp and dcmqrscp.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, readdirSync, existsSync, createReadStream, rmSync } from 'node:fs';
import path from 'node:path';
import { startStorageScp } from './harness/storage.js';
import type { StorageScp } from '../src/dimse-bridge/storage-scp.js';
import { startDcmqrscp, PACS_KINDS, type TestPacs } from '../devkit/pacs.js';
import { run, startProcess } from '../devkit/processes.js';
import { freePort, waitForPort } from '../devkit/ports.js';
import { makeTransferSyntaxVariants, storescuProfile, metaEnd, metaOf, type Variant } from './harness/variants.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { allInstances, PATIENTS, SOP_CLASS_BY_MODALITY } from '../src/samples/catalog.js';
import { receiveInstance } from '../src/cache/instance-receiver.js';
import { readDataset, writeDataset, elementHeader } from '../src/dicom/dataset-codec.js';
import { toDicomJson } from '../src/dicom/json-model.js';
import type { StoredEvent } from '../src/dimse-bridge/storage-scp.js';
import { testAssociation, storeWithOurScu } from './harness/associate.js';
import { DimseClient } from '../src/dimse-bridge/dimse-client.js';
import { SopClass } from '../src/dimse-bridge/sop-classes.js';
import { InstanceStore } from '../src/cache/instance-store.js';
import { Dataset } from '../src/dicom/dataset.js';
import { Tags } from '../src/dicom/tag.js';
import { TransferSyntax, UNCOMPRESSED_TRANSFER_SYNTAXES, encodingOf } from '../src/dicom/transfer-syntax.js';
import { tempDir } from '../devkit/temp.js';

describe('Storage SCP (as a storage component: its destination admits everything)', () => {
  let scp: StorageScp;
  let variants: Variant[];
  let store: InstanceStore;
  let stored: StoredEvent[];
  const work = tempDir('scp-test');
  const cacheDir = path.join(work, 'cache');

  beforeAll(async () => {
    ({ scp, store, stored } = await startStorageScp(cacheDir, {
      allowedCallingAeTitles: ['STORESCU', 'DWGTEST', 'QRSCP'],
    }));
    variants = await makeTransferSyntaxVariants();
  });
  afterAll(async () => {
    await scp?.close();
    await store?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const scpPort = (): string => String(scp.port);

  it('answers C-ECHO from echoscu', async () => {
    const r = await run('echoscu', ['-aet', 'STORESCU', '-aec', 'DICOMWEB', '127.0.0.1', scpPort()]);
    expect(r.code).toBe(0);
  });

  it('rejects an association called with another AE title (PS3.8 reason 7)', async () => {
    await expect(run('echoscu', ['-v', '-aet', 'STORESCU', '-aec', 'SOMEONE', '127.0.0.1', scpPort()])).rejects.toThrow(
      /Called AE Title Not Recognized/i,
    );
  });

  it('rejects a calling AE title outside the allow-list (PS3.8 reason 3)', async () => {
    await expect(
      run('echoscu', ['-v', '-aet', 'STRANGER', '-aec', 'DICOMWEB', '127.0.0.1', scpPort()]),
    ).rejects.toThrow(/Calling AE Title Not Recognized/i);
  });

  /** DCMTK 3.6.7 predates HTJ2K: its DIMSE layer refuses those UIDs, so our own SCU sends them. */
  const DCMTK_UNKNOWN = new Set<string>([
    TransferSyntax.HTJ2KLossless,
    TransferSyntax.HTJ2KLosslessRPCL,
    TransferSyntax.HTJ2K,
  ]);

  it('stores every transfer syntax it is sent (storescu where DCMTK knows the syntax), the dataset on disk byte-identical to the source file', async () => {
    expect(variants.length).toBeGreaterThanOrEqual(17);
    for (const v of variants) {
      if (DCMTK_UNKNOWN.has(v.transferSyntax)) {
        expect(await storeWithOurScu(scp.port, 'DICOMWEB', v.file), v.transferSyntax).toBe(0);
      } else {
        const profile = storescuProfile(work, v.sopClassUid, v.transferSyntax);
        const r = await run('storescu', [
          '-aet',
          'STORESCU',
          '-aec',
          'DICOMWEB',
          '-xf',
          profile,
          'Send',
          '127.0.0.1',
          scpPort(),
          v.file,
        ]);
        expect(`${r.stdout}${r.stderr}`, v.transferSyntax).not.toMatch(/Store Failed/i);
      }
      const onDisk = readFileSync(store.pathOf(v.sopInstanceUid));
      const source = readFileSync(v.file);
      expect(metaOf(onDisk), v.transferSyntax).toEqual({
        transferSyntax: v.transferSyntax,
        sopInstanceUid: v.sopInstanceUid,
        sopClassUid: v.sopClassUid,
      });
      expect(
        onDisk.subarray(metaEnd(onDisk)).equals(source.subarray(metaEnd(source))),
        `dataset bytes for ${v.transferSyntax}`,
      ).toBe(true);
      expect(
        stored.some(
          (e) =>
            e.sopInstanceUid === v.sopInstanceUid &&
            e.transferSyntaxUid === v.transferSyntax &&
            e.callingAeTitle === 'STORESCU',
        ),
      ).toBe(true);
    }
    expect(readdirSync(path.join(cacheDir, 'incoming'))).toEqual([]);
  });

  it('keeps nothing and answers nothing when the peer aborts in the middle of a dataset', async () => {
    const association = await testAssociation({
      port: scp.port,
      calledAeTitle: 'DICOMWEB',
      presentationContexts: [
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] },
      ],
      maxPduLength: 16384,
    });
    const responses: unknown[] = [];
    association.setHandler({
      onCommand: (_pc, cmd) => {
        responses.push(cmd);
        return undefined;
      },
    });
    const uid = '1.2.826.0.1.3680043.99.1';
    async function* partial(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(200_000, 1);
      await new Promise((r) => setTimeout(r, 50));
      association.abort();
      yield Buffer.alloc(200_000, 2);
    }
    const pc = association.findContext('1.2.840.10008.5.1.4.1.1.2');
    await association
      .send(
        pc?.id ?? 1,
        {
          commandField: 0x0001,
          hasDataset: true,
          messageId: 1,
          affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.2',
          affectedSopInstanceUid: uid,
          priority: 0,
        },
        partial(),
      )
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    expect(responses).toEqual([]);
    expect(existsSync(store.pathOf(uid))).toBe(false);
    expect(readdirSync(path.join(cacheDir, 'incoming'))).toEqual([]);
    expect(stored.some((e) => e.sopInstanceUid === uid)).toBe(false);
  });

  it('streams a large dataset (32 MB, in chunks) to disk intact', async () => {
    const association = await testAssociation({
      port: scp.port,
      calledAeTitle: 'DICOMWEB',
      presentationContexts: [
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian] },
      ],
    });
    const client = new DimseClient(association, { responseTimeoutMs: 10_000 });
    const uid = '1.2.826.0.1.3680043.99.2';
    let produced = 0;
    // A real instance (its UIDs are the command's, PS3.4 §B.2.3) whose Pixel Data is 32 MB, sent chunk by chunk.
    const head = Buffer.concat([
      writeDataset(
        new Dataset()
          .setText(Tags.SOPClassUID, '1.2.840.10008.5.1.4.1.1.7', 'UI')
          .setText(Tags.SOPInstanceUID, uid, 'UI')
          .setText(Tags.StudyInstanceUID, '1.2.826.0.1.3680043.99.3', 'UI')
          .setText(Tags.SeriesInstanceUID, '1.2.826.0.1.3680043.99.4', 'UI'),
        encodingOf(TransferSyntax.ExplicitVRLittleEndian),
      ),
      elementHeader(Tags.PixelData, 'OB', 512 * 65536, true),
    ]);
    async function* big(): AsyncGenerator<Buffer> {
      produced += head.length;
      yield head;
      for (let i = 0; i < 512; i++) {
        const b = Buffer.alloc(65536, i & 0xff);
        produced += b.length;
        yield b;
      }
    }
    const status = await client.store('1.2.840.10008.5.1.4.1.1.7', uid, TransferSyntax.ExplicitVRLittleEndian, big());
    await association.release();
    expect(status).toBe(0);
    const onDisk = readFileSync(store.pathOf(uid));
    const body = onDisk.subarray(metaEnd(onDisk));
    expect(body.length).toBe(produced);
    for (let i = 0; i < 512; i += 97) expect(body[head.length + i * 65536 + 100]).toBe(i & 0xff);
  });

  it('receives the sub-operations of a C-MOVE that our SCU sends to dcmqrscp', async () => {
    const pacs: TestPacs = await startDcmqrscp({
      moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: scp.port },
    });
    try {
      const association = await testAssociation({
        host: pacs.host,
        port: pacs.port,
        calledAeTitle: pacs.aeTitle,
        presentationContexts: [
          { abstractSyntax: SopClass.StudyRootMove, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] },
        ],
      });
      const client = new DimseClient(association, { responseTimeoutMs: 10_000 });
      const study = PATIENTS[0]?.studies[0];
      const expected = [...allInstances()]
        .filter((i) => i.study.uid === study?.uid)
        .map((i) => i.uid)
        .sort();
      const before = stored.length;
      const identifier = new Dataset()
        .setText(Tags.QueryRetrieveLevel, 'STUDY')
        .setText(Tags.StudyInstanceUID, study?.uid ?? '');
      const progress: number[] = [];
      const result = await client.move(SopClass.StudyRootMove, 'DICOMWEB', identifier, (p) =>
        progress.push(p.completed ?? 0),
      );
      await association.release();
      expect(result.status).toBe(0);
      expect(result.completed).toBe(expected.length);
      expect(result.failed ?? 0).toBe(0);
      const received = stored
        .slice(before)
        .map((e) => e.sopInstanceUid)
        .sort();
      expect(received).toEqual(expected);
      for (const e of stored.slice(before)) expect(e.callingAeTitle).toBe('QRSCP');
    } finally {
      await pacs.stop();
    }
  });
});

describe('C-GET SCU (sub-operations on our own association, into the instance store)', () => {
  for (const kind of ['dcmqrscp', 'orthanc'] as const) {
    it(`retrieves a study from ${kind}, each instance equal to its fixture`, async () => {
      const pacs = await PACS_KINDS[kind]();
      const store = new InstanceStore(tempDir('cget'));
      await store.init();
      try {
        const storageClasses = Object.values(SOP_CLASS_BY_MODALITY);
        const association = await testAssociation({
          host: pacs.host,
          port: pacs.port,
          calledAeTitle: pacs.aeTitle,
          presentationContexts: [
            { abstractSyntax: SopClass.StudyRootGet, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] },
            ...storageClasses.map((abstractSyntax) => ({
              abstractSyntax,
              transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES],
            })),
          ],
          // PS3.4 §C.4.3.1: we take the SCP role for the storage sub-operations.
          roleSelections: storageClasses.map((sopClassUid) => ({ sopClassUid, scuRole: false, scpRole: true })),
        });
        const client = new DimseClient(association, { responseTimeoutMs: 10_000 });
        const study = PATIENTS[0]?.studies[0];
        const expected = [...allInstances()].filter((i) => i.study.uid === study?.uid);
        const identifier = new Dataset()
          .setText(Tags.QueryRetrieveLevel, 'STUDY')
          .setText(Tags.StudyInstanceUID, study?.uid ?? '');
        const received: string[] = [];
        const result = await client.get(SopClass.StudyRootGet, identifier, (info) => {
          received.push(info.sopInstanceUid);
          return receiveInstance(store, { ...info, sourceAeTitle: info.callingAeTitle });
        });
        await association.release();
        expect(result.status).toBe(0);
        expect(result.completed).toBe(expected.length);
        expect(received.sort()).toEqual(expected.map((i) => i.uid).sort());
        const files = fixtureFiles().files;
        const instances = [...allInstances()];
        for (const inst of expected) {
          const got = readFileSync(store.pathOf(inst.uid));
          const source = readFileSync(files[instances.findIndex((i) => i.uid === inst.uid)] as string);
          const decode = (b: Buffer): unknown =>
            toDicomJson(readDataset(b.subarray(metaEnd(b)), encodingOf(metaOf(b).transferSyntax)));
          expect(decode(got)).toEqual(decode(source));
        }
      } finally {
        await pacs.stop();
      }
    });
  }
});

describe('our SCU against DCMTK', () => {
  it('sends a C-STORE from a file stream that storescp writes byte-identical', async () => {
    const dir = tempDir('storescp');
    const port = await freePort();
    const scp = startProcess('storescp', ['+B', '-od', dir, '-aet', 'STORESCP', String(port)]); // +B: write the dataset exactly as received;
    try {
      await waitForPort(port);
      const file = fixtureFiles().files[0] as string;
      const bytes = readFileSync(file);
      const meta = metaOf(bytes);
      const association = await testAssociation({
        host: '127.0.0.1',
        port,
        calledAeTitle: 'STORESCP',
        presentationContexts: [{ abstractSyntax: meta.sopClassUid, transferSyntaxes: [meta.transferSyntax] }],
        maxPduLength: 16384,
      });
      const client = new DimseClient(association, { responseTimeoutMs: 5000 });
      const status = await client.store(
        meta.sopClassUid,
        meta.sopInstanceUid,
        meta.transferSyntax,
        createReadStream(file, { start: metaEnd(bytes), highWaterMark: 4096 }),
      );
      await association.release();
      expect(status).toBe(0);
      const [written] = readdirSync(dir);
      const out = readFileSync(path.join(dir, written ?? ''));
      expect(out.subarray(metaEnd(out)).equals(bytes.subarray(metaEnd(bytes)))).toBe(true);
    } finally {
      await scp.stop();
    }
  });

  it('cancels a C-FIND part-way against dcmqrscp (which keeps sending) and reuses the association', async () => {
    const pacs = await startDcmqrscp();
    try {
      const association = await testAssociation({
        host: pacs.host,
        port: pacs.port,
        calledAeTitle: pacs.aeTitle,
        presentationContexts: [
          { abstractSyntax: SopClass.StudyRootFind, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] },
        ],
      });
      const client = new DimseClient(association, { responseTimeoutMs: 5000 });
      const query = (): Dataset =>
        new Dataset().setText(Tags.QueryRetrieveLevel, 'STUDY').setEmpty(Tags.StudyInstanceUID);
      let first = 0;
      for await (const _ of client.find(SopClass.StudyRootFind, query())) {
        if (++first === 2) break;
      }
      await client.whenIdle();
      expect(association.isOpen).toBe(true);
      let all = 0;
      for await (const _ of client.find(SopClass.StudyRootFind, query())) all++;
      expect(first).toBe(2);
      expect(all).toBe(PATIENTS.flatMap((p) => p.studies).length);
      await association.release();
    } finally {
      await pacs.stop();
    }
  });
});
