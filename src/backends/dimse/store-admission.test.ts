import { describe, it, expect, afterEach } from 'vitest';
import { rmSync } from 'node:fs';
import { MoveMediator, type MoveMediatorOptions } from './move-mediator.js';
import type { PacsPeer, FindSession, RetrieveHooks } from './pacs-peer.js';
import type { MoveResult } from '../../dimse-bridge/dimse-client.js';
import {
  commandMismatch,
  type StoreAdmission,
  type StoredEvent,
  type StoreRequest,
} from '../../dimse-bridge/storage-scp.js';
import type { ArrivedUids, StoreRefusal } from '../../cache/instance-receiver.js';
import { InstanceStore } from '../../cache/instance-store.js';
import { InstanceCache } from '../../cache/instance-cache.js';
import { Dataset } from '../../dicom/dataset.js';
import { Tags } from '../../dicom/tag.js';
import { tempDir } from '../../../devkit/temp.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const STUDY = '1.2.3';
const SERIES = '1.2.3.1';
const LISTED = ['1.2.3.1.1', '1.2.3.1.2'];
const MOVE_MESSAGE_ID = 7;

/** A PACS with one study of one series; its C-MOVE runs until the test ends it. */
function fakePacs(listingDelayMs = 0) {
  let endMove: ((r: MoveResult) => void) | undefined;
  const session = (rows: Dataset[]): FindSession => {
    let i = 0;
    return {
      fuzzyMatchingApplied: false,
      cancelledByPeer: false,
      matches: {
        [Symbol.asyncIterator]() {
          return this;
        },
        async next() {
          if (i === 0 && listingDelayMs) await new Promise((r) => setTimeout(r, listingDelayMs));
          return i < rows.length ? { done: false, value: rows[i++] as Dataset } : { done: true, value: undefined };
        },
        async return() {
          i = rows.length;
          return { done: true, value: undefined };
        },
      },
    };
  };
  const backend: PacsPeer = {
    async find(identifier) {
      const level = identifier.getString(Tags.QueryRetrieveLevel);
      if (level === 'SERIES')
        return session([new Dataset().setText(Tags.StudyInstanceUID, STUDY).setText(Tags.SeriesInstanceUID, SERIES)]);
      return session(
        LISTED.map((sop) => new Dataset().setText(Tags.SOPInstanceUID, sop).setText(Tags.SOPClassUID, CT)),
      );
    },
    deliversToStorageScp: true,
    listsBeforeRetrieving: false,
    retrieve: (_request, hooks: RetrieveHooks) => {
      hooks.onStarted?.(MOVE_MESSAGE_ID);
      return new Promise((resolve) => {
        endMove = resolve;
      });
    },
    echo: async () => ({ status: 0, roundTripMs: 0 }),
    close: async () => {},
  };
  return { backend, endMove: () => endMove?.({ status: 0, completed: 0, failed: 0, warning: 0 }) };
}

const arrived = (sop: string, over: Partial<ArrivedUids> = {}): ArrivedUids => ({
  sopClassUid: CT,
  sopInstanceUid: sop,
  studyInstanceUid: STUDY,
  seriesInstanceUid: SERIES,
  ...over,
});
const request = (sop: string, over: Partial<StoreRequest> = {}): StoreRequest => ({
  sopClassUid: CT,
  sopInstanceUid: sop,
  callingAeTitle: 'PACS',
  peerAddress: '127.0.0.1',
  ...over,
});

async function decide(admission: StoreAdmission, data: ArrivedUids): Promise<StoreRefusal | undefined> {
  if ('refusal' in admission) return admission.refusal;
  return admission.verify?.(data);
}

describe('Storage SCP admission (the retrieval mediator)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function service(listingDelayMs = 0, observer?: MoveMediatorOptions['observer']) {
    const dir = tempDir('admit');
    dirs.push(dir);
    const store = new InstanceStore(dir);
    const cache = new InstanceCache(store, 1 << 20);
    await cache.open();
    const pacs = fakePacs(listingDelayMs);
    const retrieve = new MoveMediator(pacs.backend, cache, store, {
      idleTimeoutMs: 10_000,
      storageScp: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: 11112 },
      ...(observer ? { observer } : {}),
    });
    return { retrieve, pacs };
  }

  it('refuses everything while no retrieval runs', async () => {
    const { retrieve } = await service();
    expect(await decide(retrieve.admitStore(request(LISTED[0] as string)), arrived(LISTED[0] as string))).toMatchObject(
      { status: 0x0124 },
    );
  });

  it('admits a listed instance of a running C-MOVE, and refuses what disagrees with its command or scope', async () => {
    const { retrieve, pacs } = await service();
    const opening = retrieve.open({ study: STUDY });
    const sop = LISTED[0] as string;
    // Before the listing is in: decided once the data is here and the listing has come.
    const early = retrieve.admitStore(request(sop));
    expect(await decide(early, arrived(sop))).toBeUndefined();
    await opening;
    // What disagrees with its command the Storage SCP refuses before asking the mediator (commandMismatch).
    expect(commandMismatch(request(sop), arrived(sop, { sopInstanceUid: '1.2.3.1.99' }))).toMatchObject({
      status: 0xc000,
    });
    expect(commandMismatch(request(sop), arrived(sop, { sopClassUid: '1.2.840.10008.5.1.4.1.1.4' }))).toMatchObject({
      status: 0xa900,
    });
    expect(
      await decide(retrieve.admitStore(request(sop)), arrived(sop, { sopInstanceUid: '1.2.3.1.99' })),
    ).toMatchObject({ status: 0x0124 });
    expect(
      await decide(retrieve.admitStore(request(sop)), arrived(sop, { seriesInstanceUid: '1.2.3.9' })),
    ).toMatchObject({ status: 0x0124 });
    expect(await decide(retrieve.admitStore(request('1.2.3.1.3')), arrived('1.2.3.1.3'))).toMatchObject({
      status: 0x0124,
    });
    pacs.endMove();
  });

  it('matches by Move Originator (our AE title and the running Message ID), still within the scope', async () => {
    const { retrieve, pacs } = await service();
    await retrieve.open({ study: STUDY });
    const ours = { moveOriginator: { aeTitle: 'DICOMWEB', messageId: MOVE_MESSAGE_ID } };
    // Not listed (the PACS may hold more than it listed) but named by the originator and inside the study.
    expect(await decide(retrieve.admitStore(request('1.2.3.1.3', ours)), arrived('1.2.3.1.3'))).toBeUndefined();
    expect(
      await decide(retrieve.admitStore(request('9.9.9', ours)), arrived('9.9.9', { studyInstanceUid: '9.9' })),
    ).toMatchObject({ status: 0x0124 });
    // Another originator AE title, or a Message ID no retrieval of ours uses: only the listing counts.
    expect(
      await decide(
        retrieve.admitStore(request('1.2.3.1.3', { moveOriginator: { aeTitle: 'EVIL', messageId: MOVE_MESSAGE_ID } })),
        arrived('1.2.3.1.3'),
      ),
    ).toMatchObject({ status: 0x0124 });
    expect(
      await decide(
        retrieve.admitStore(request('1.2.3.1.3', { moveOriginator: { aeTitle: 'DICOMWEB', messageId: 99 } })),
        arrived('1.2.3.1.3'),
      ),
    ).toMatchObject({ status: 0x0124 });
    pacs.endMove();
  });

  it('refuses again once the retrieval has ended', async () => {
    const { retrieve, pacs } = await service();
    const stream = await retrieve.open({ study: STUDY });
    pacs.endMove();
    for await (const held of stream) held.release();
    expect(await decide(retrieve.admitStore(request(LISTED[0] as string)), arrived(LISTED[0] as string))).toMatchObject(
      { status: 0x0124 },
    );
  });

  it("hands the capability probe's copy of an instance to a retrieval expecting it once, whichever copy comes first", async () => {
    const ended: number[] = [];
    const { retrieve, pacs } = await service(0, {
      retrievalEnded: (e) => {
        ended.push(e.instances);
      },
    });
    const stream = await retrieve.open({ study: STUDY });
    const [first, second] = LISTED as [string, string];
    const probe = retrieve
      .probeReceiver()
      .expect({ studyInstanceUid: STUDY, seriesInstanceUid: SERIES, sopInstanceUid: first });
    const storedEvent = (sop: string, originator?: { aeTitle: string; messageId: number }): StoredEvent => ({
      sopClassUid: CT,
      sopInstanceUid: sop,
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      sourceAeTitle: 'PACS',
      callingAeTitle: 'PACS',
      path: `/nonexistent/${sop}.dcm`,
      bytes: 100,
      arrived: arrived(sop),
      ...(originator ? { moveOriginator: originator } : {}),
    });
    const store = async (sop: string, originator?: { aeTitle: string; messageId: number }): Promise<void> => {
      const admission = retrieve.admitStore(request(sop, originator ? { moveOriginator: originator } : {}));
      if ('refusal' in admission) throw new Error(`refused ${sop}`);
      expect(await admission.verify?.(arrived(sop))).toBeUndefined();
      await admission.stored(storedEvent(sop, originator));
    };
    const ours = { aeTitle: 'DICOMWEB', messageId: MOVE_MESSAGE_ID };
    await store(first, { aeTitle: 'DICOMWEB', messageId: 4242 }); // the probe's C-MOVE, named by its own Message ID
    await store(first, ours); // the retrieval's own copy
    await store(second, ours);
    probe.end();
    pacs.endMove();
    const got: string[] = [];
    for await (const held of stream) {
      got.push(held.instance.sopInstanceUid);
      held.release();
    }
    expect(got.sort()).toEqual([...LISTED].sort());
    expect(probe.arrivals).toEqual([{ aeTitle: 'DICOMWEB', messageId: 4242 }]);
    await retrieve.settled();
    expect(ended).toEqual([2]); // two instances arrived, not three copies
  });
});
