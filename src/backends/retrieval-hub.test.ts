import { describe, expect, it } from 'vitest';
import { tempDir } from '../../devkit/temp.js';
import { configSchema } from '../config/schema.js';
import { Status } from '../dicom/status.js';
import type { StoreAdmission, StoreDestination, StoreRequest } from '../dimse-bridge/storage-scp.js';
import { silentLogger } from '../logger.js';
import { InstanceStore } from '../cache/instance-store.js';
import { RetrievalHub } from './retrieval-hub.js';

const refused: StoreAdmission = { refusal: { status: Status.NotAuthorized, comment: 'not mine' } };
const taken = (by: string): StoreAdmission => ({
  stored: () => undefined,
  verify: async () => ({ status: 0, comment: by }),
});

/** A destination that takes what `takes` says, and notes each question it was asked. */
function destination(name: string, takes: (r: StoreRequest) => boolean, asked: string[]): StoreDestination {
  return {
    admitStore: (r) => {
      asked.push(name);
      return takes(r) ? taken(name) : refused;
    },
  };
}

const request = (callingAeTitle: string): StoreRequest => ({
  sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
  sopInstanceUid: '1.2.3',
  callingAeTitle,
  peerAddress: '127.0.0.1',
});

async function hub(): Promise<RetrievalHub> {
  const config = configSchema.parse({ cache: { dir: tempDir('hub') }, dimse: { port: 0 } });
  return RetrievalHub.open(config.cache, config.dimse, silentLogger);
}

const verdict = async (a: StoreAdmission): Promise<string | undefined> =>
  'refusal' in a ? `refused: ${a.refusal.comment}` : (await a.verify?.({} as never))?.comment;

describe('the retrieval hub: one Storage SCP for several PACS', () => {
  it('asks the PACS the association calls from first, then the others', async () => {
    const h = await hub();
    const asked: string[] = [];
    h.route(
      'MAIN',
      destination('main', () => true, asked),
    );
    h.route(
      'CARDIO',
      destination('cardio', () => true, asked),
    );
    expect(await verdict(h.admitStore(request('CARDIO')))).toBe('cardio');
    expect(asked).toEqual(['cardio']);
    asked.length = 0;
    // Calling from an unknown title: the retrievals in the order they were routed.
    expect(await verdict(h.admitStore(request('OTHER')))).toBe('main');
    await h.close();
  });

  it('lets a PACS that does not take the instance give way to one that does', async () => {
    const h = await hub();
    const asked: string[] = [];
    h.route(
      'MAIN',
      destination('main', () => false, asked),
    );
    h.route(
      'CARDIO',
      destination('cardio', () => true, asked),
    );
    expect(await verdict(h.admitStore(request('MAIN')))).toBe('cardio');
    expect(asked).toEqual(['main', 'cardio']);
    await h.close();
  });

  it('refuses what no retrieval takes, or keeps it in the archive (in its own store) when there is one', async () => {
    const h = await hub();
    h.route(
      'MAIN',
      destination('main', () => false, []),
    );
    expect(await verdict(h.admitStore(request('MODALITY')))).toBe('refused: not mine');
    const archiveStore = new InstanceStore(tempDir('archive'));
    h.keepArrivalsIn({ store: archiveStore, admitStore: () => taken('archive') });
    const admission = h.admitStore(request('MODALITY'));
    expect(await verdict(admission)).toBe('archive');
    expect('store' in admission && admission.store).toBe(archiveStore);
    await h.close();
  });
});
