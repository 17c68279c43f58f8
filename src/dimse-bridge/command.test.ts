import { describe, it, expect } from 'vitest';
import { encodeCommand, decodeCommand, CommandField } from './command.js';
import { Status, isFailureStatus, isPending } from '../dicom/status.js';

describe('DIMSE command sets (PS3.7 §9.3, Annex E)', () => {
  it('round-trips a C-MOVE-RQ and a C-MOVE-RSP with counts', () => {
    const rq = {
      commandField: CommandField.CMoveRQ,
      hasDataset: true,
      messageId: 7,
      affectedSopClassUid: '1.2.840.10008.5.1.4.1.2.2.2',
      priority: 0,
      moveDestination: 'DICOMWEB',
    };
    expect(decodeCommand(encodeCommand(rq))).toEqual(rq);
    const rsp = {
      commandField: CommandField.CMoveRSP,
      hasDataset: false,
      messageIdBeingRespondedTo: 7,
      affectedSopClassUid: '1.2.840.10008.5.1.4.1.2.2.2',
      status: Status.Warning,
      remaining: 0,
      completed: 4,
      failed: 1,
      warning: 0,
      errorComment: 'one failed',
      offendingElements: [0x0020000d],
    };
    expect(decodeCommand(encodeCommand(rsp))).toEqual(rsp);
  });

  it('writes Command Group Length (0000,0000) equal to the bytes that follow it', () => {
    const bytes = encodeCommand({
      commandField: CommandField.CEchoRQ,
      hasDataset: false,
      messageId: 1,
      affectedSopClassUid: '1.2.840.10008.1.1',
    });
    expect(bytes.readUInt32LE(8)).toBe(bytes.length - 12);
  });

  it('marks "no dataset" with 0101H and anything else as a dataset (PS3.7 §9.3.1)', () => {
    const none = encodeCommand({ commandField: CommandField.CEchoRQ, hasDataset: false, messageId: 1 });
    expect(decodeCommand(none).hasDataset).toBe(false);
    expect(
      decodeCommand(encodeCommand({ commandField: CommandField.CFindRQ, hasDataset: true, messageId: 1 })).hasDataset,
    ).toBe(true);
  });

  it('classifies statuses (PS3.7 Annex C)', () => {
    expect(isPending(0xff00)).toBe(true);
    expect(isPending(0xff01)).toBe(true);
    expect(isFailureStatus(0xa700)).toBe(true);
    expect(isFailureStatus(0xc001)).toBe(true);
    expect(isFailureStatus(0xb000)).toBe(false);
    expect(isFailureStatus(0xfe00)).toBe(false);
    expect(isFailureStatus(0x0000)).toBe(false);
  });
});
