import { Dataset } from '../dicom/dataset.js';
import { readDataset, writeDataset } from '../dicom/dataset-codec.js';
import { tag, type Tag } from '../dicom/tag.js';
import type { VR } from '../dicom/vr.js';

/** Command Field values (PS3.7 Annex E). */
export const CommandField = {
  CStoreRQ: 0x0001,
  CStoreRSP: 0x8001,
  CGetRQ: 0x0010,
  CGetRSP: 0x8010,
  CFindRQ: 0x0020,
  CFindRSP: 0x8020,
  CMoveRQ: 0x0021,
  CMoveRSP: 0x8021,
  CEchoRQ: 0x0030,
  CEchoRSP: 0x8030,
  CCancelRQ: 0x0fff,
} as const;

export const Priority = { Medium: 0x0000, High: 0x0001, Low: 0x0002 } as const;

/** Command Data Set Type: 0101H means "no data set" (PS3.7 §9.3.1); we send 0000H otherwise. */
const NO_DATASET = 0x0101;

export interface DimseCommand {
  commandField: number;
  hasDataset: boolean;
  messageId?: number;
  messageIdBeingRespondedTo?: number;
  affectedSopClassUid?: string;
  requestedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  requestedSopInstanceUid?: string;
  priority?: number;
  status?: number;
  errorComment?: string;
  offendingElements?: number[];
  moveDestination?: string;
  moveOriginatorAeTitle?: string;
  moveOriginatorMessageId?: number;
  remaining?: number;
  completed?: number;
  failed?: number;
  warning?: number;
}

const C = {
  GroupLength: tag(0, 0x0000),
  AffectedSOPClassUID: tag(0, 0x0002),
  RequestedSOPClassUID: tag(0, 0x0003),
  CommandField: tag(0, 0x0100),
  MessageID: tag(0, 0x0110),
  MessageIDBeingRespondedTo: tag(0, 0x0120),
  MoveDestination: tag(0, 0x0600),
  Priority: tag(0, 0x0700),
  CommandDataSetType: tag(0, 0x0800),
  Status: tag(0, 0x0900),
  OffendingElement: tag(0, 0x0901),
  ErrorComment: tag(0, 0x0902),
  AffectedSOPInstanceUID: tag(0, 0x1000),
  RequestedSOPInstanceUID: tag(0, 0x1001),
  Remaining: tag(0, 0x1020),
  Completed: tag(0, 0x1021),
  Failed: tag(0, 0x1022),
  Warning: tag(0, 0x1023),
  MoveOriginatorAETitle: tag(0, 0x1030),
  MoveOriginatorMessageID: tag(0, 0x1031),
} as const;

const IMPLICIT_LE = { explicitVR: false, littleEndian: true } as const;

/** Encodes a command set in Implicit VR Little Endian with its group length (PS3.7 §6.3.1). */
export function encodeCommand(cmd: DimseCommand): Buffer {
  const ds = new Dataset();
  const text = (t: Tag, v: string | undefined, vr: VR): void => {
    if (v !== undefined) ds.setText(t, v, vr);
  };
  const us = (t: Tag, v: number | undefined): void => {
    if (v !== undefined) ds.setUint16(t, v);
  };
  text(C.AffectedSOPClassUID, cmd.affectedSopClassUid, 'UI');
  text(C.RequestedSOPClassUID, cmd.requestedSopClassUid, 'UI');
  us(C.CommandField, cmd.commandField);
  us(C.MessageID, cmd.messageId);
  us(C.MessageIDBeingRespondedTo, cmd.messageIdBeingRespondedTo);
  if (cmd.moveDestination !== undefined)
    ds.set({ tag: C.MoveDestination, vr: 'AE', bytes: aeBytes(cmd.moveDestination) });
  us(C.Priority, cmd.priority);
  us(C.CommandDataSetType, cmd.hasDataset ? 0x0000 : NO_DATASET);
  us(C.Status, cmd.status);
  if (cmd.offendingElements?.length) {
    const b = Buffer.alloc(cmd.offendingElements.length * 4);
    cmd.offendingElements.forEach((t, i) => {
      b.writeUInt16LE(t >>> 16, i * 4);
      b.writeUInt16LE(t & 0xffff, i * 4 + 2);
    });
    ds.set({ tag: C.OffendingElement, vr: 'AT', bytes: b });
  }
  text(C.ErrorComment, cmd.errorComment?.slice(0, 64), 'LO');
  text(C.AffectedSOPInstanceUID, cmd.affectedSopInstanceUid, 'UI');
  text(C.RequestedSOPInstanceUID, cmd.requestedSopInstanceUid, 'UI');
  us(C.Remaining, cmd.remaining);
  us(C.Completed, cmd.completed);
  us(C.Failed, cmd.failed);
  us(C.Warning, cmd.warning);
  if (cmd.moveOriginatorAeTitle !== undefined)
    ds.set({ tag: C.MoveOriginatorAETitle, vr: 'AE', bytes: aeBytes(cmd.moveOriginatorAeTitle) });
  us(C.MoveOriginatorMessageID, cmd.moveOriginatorMessageId);
  const body = writeDataset(ds, IMPLICIT_LE);
  const head = Buffer.alloc(12);
  head.writeUInt16LE(0, 0);
  head.writeUInt16LE(0, 2);
  head.writeUInt32LE(4, 4);
  head.writeUInt32LE(body.length, 8);
  return Buffer.concat([head, body]);
}

function aeBytes(title: string): Buffer {
  const b = Buffer.from(title, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from(' ')]) : b;
}

/** Decodes a command set. Unknown command elements are ignored. */
export function decodeCommand(bytes: Buffer): DimseCommand {
  const ds = readDataset(bytes, IMPLICIT_LE);
  const str = (t: Tag): string | undefined => ds.getString(t);
  const commandField = ds.getUint16(C.CommandField);
  if (commandField === undefined) throw new Error('command set without Command Field (0000,0100)');
  const offending = ds.get(C.OffendingElement);
  const offendingElements: number[] = [];
  if (offending && 'bytes' in offending) {
    for (let i = 0; i + 4 <= offending.bytes.length; i += 4) {
      offendingElements.push(((offending.bytes.readUInt16LE(i) << 16) | offending.bytes.readUInt16LE(i + 2)) >>> 0);
    }
  }
  const cmd: DimseCommand = { commandField, hasDataset: ds.getUint16(C.CommandDataSetType) !== NO_DATASET };
  const assign = <K extends keyof DimseCommand>(key: K, value: DimseCommand[K] | undefined): void => {
    if (value !== undefined) cmd[key] = value;
  };
  assign('messageId', ds.getUint16(C.MessageID));
  assign('messageIdBeingRespondedTo', ds.getUint16(C.MessageIDBeingRespondedTo));
  assign('affectedSopClassUid', str(C.AffectedSOPClassUID));
  assign('requestedSopClassUid', str(C.RequestedSOPClassUID));
  assign('affectedSopInstanceUid', str(C.AffectedSOPInstanceUID));
  assign('requestedSopInstanceUid', str(C.RequestedSOPInstanceUID));
  assign('priority', ds.getUint16(C.Priority));
  assign('status', ds.getUint16(C.Status));
  assign('errorComment', str(C.ErrorComment));
  if (offendingElements.length) cmd.offendingElements = offendingElements;
  assign('moveDestination', str(C.MoveDestination));
  assign('moveOriginatorAeTitle', str(C.MoveOriginatorAETitle));
  assign('moveOriginatorMessageId', ds.getUint16(C.MoveOriginatorMessageID));
  assign('remaining', ds.getUint16(C.Remaining));
  assign('completed', ds.getUint16(C.Completed));
  assign('failed', ds.getUint16(C.Failed));
  assign('warning', ds.getUint16(C.Warning));
  return cmd;
}
