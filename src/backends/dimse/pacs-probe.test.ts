import { describe, expect, it } from 'vitest';
import { chooseRetrieval, ProbeReceiver, type PacsCapabilities, type RetrievalTrial } from './pacs-probe.js';
import type { StoredEvent } from '../../dimse-bridge/storage-scp.js';

const trial = (outcome: RetrievalTrial['outcome']): RetrievalTrial => ({ outcome, detail: '' });

function found(
  move: RetrievalTrial['outcome'],
  get: RetrievalTrial['outcome'],
  accepted = { move: true, get: true },
): PacsCapabilities {
  return {
    target: 'PACS@127.0.0.1:104',
    echo: { status: '0x0000', roundTripMs: 1 },
    implementation: { classUid: '1.2.3' },
    maxPduLength: 16384,
    models: { 'Study Root': { find: true, ...accepted }, 'Patient Root': { find: true, move: false, get: false } },
    levels: {
      'Patient Root': { PATIENT: 'matches' },
      'Study Root': { STUDY: 'matches', SERIES: 'matches', IMAGE: 'matches' },
    },
    findOptions: undefined,
    storageTransferSyntaxes: [],
    get: trial(get),
    move: trial(move),
  };
}

describe('pacs.retrieve auto', () => {
  it("takes C-MOVE when the probe's C-MOVE delivered, C-GET when only its C-GET did", () => {
    expect(chooseRetrieval(found('delivered', 'delivered'))).toBe('move');
    expect(chooseRetrieval(found('delivered', 'failed'))).toBe('move');
    expect(chooseRetrieval(found('failed', 'delivered'))).toBe('get');
    expect(chooseRetrieval(found('not tried', 'delivered'))).toBe('get');
  });

  it('goes by what the PACS accepted when nothing was delivered, C-MOVE first', () => {
    expect(chooseRetrieval(found('not tried', 'not tried'))).toBe('move');
    expect(chooseRetrieval(found('failed', 'failed'))).toBe('move');
    expect(chooseRetrieval(found('not tried', 'not tried', { move: false, get: true }))).toBe('get');
    expect(chooseRetrieval(found('not tried', 'not tried', { move: false, get: false }))).toBe('move');
    expect(chooseRetrieval(undefined)).toBe('move');
  });
});

describe('the Storage SCP lent to the probe', () => {
  const sample = { studyInstanceUid: '1.2.1', seriesInstanceUid: '1.2.1.1', sopInstanceUid: '1.2.1.1.1' };
  const arrived = (series: string) => ({
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    sopInstanceUid: sample.sopInstanceUid,
    studyInstanceUid: sample.studyInstanceUid,
    seriesInstanceUid: series,
  });

  it('admits only the instance a running probe asks for, in the study and series it found', async () => {
    const receiver = new ProbeReceiver('DICOMWEB');
    expect(receiver.admit(sample.sopInstanceUid, () => {})).toBeUndefined();
    const expected = receiver.expect(sample);
    const admission = receiver.admit(sample.sopInstanceUid, () => {});
    if (!admission || 'refusal' in admission) throw new Error('not admitted');
    expect(await admission.verify?.(arrived('9.9.9'))).toMatchObject({ status: 0x0124 });
    expect(await admission.verify?.(arrived(sample.seriesInstanceUid))).toBeUndefined();
    await admission.stored({
      path: '/x',
      moveOriginator: { aeTitle: 'DICOMWEB', messageId: 7 },
    } as unknown as StoredEvent);
    await admission.stored({ path: '/x' } as unknown as StoredEvent);
    // What each C-STORE said of its C-MOVE: the originator, or nothing (null).
    expect(expected.arrivals).toEqual([{ aeTitle: 'DICOMWEB', messageId: 7 }, null]);
    expected.end();
    expect(receiver.admit(sample.sopInstanceUid, () => {})).toBeUndefined();
  });
});
