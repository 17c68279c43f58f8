/**
 * Upper-layer PDUs (PS3.8 §9.3) and their encoding. Parsing lives in pdu-parser.ts.
 */
export const PduType = {
  AssociateRQ: 0x01,
  AssociateAC: 0x02,
  AssociateRJ: 0x03,
  PData: 0x04,
  ReleaseRQ: 0x05,
  ReleaseRP: 0x06,
  Abort: 0x07,
} as const;

export const ItemType = {
  ApplicationContext: 0x10,
  PresentationContextRQ: 0x20,
  PresentationContextAC: 0x21,
  AbstractSyntax: 0x30,
  TransferSyntax: 0x40,
  UserInformation: 0x50,
  MaximumLength: 0x51,
  ImplementationClassUID: 0x52,
  AsynchronousOperationsWindow: 0x53,
  RoleSelection: 0x54,
  ImplementationVersionName: 0x55,
  SopClassExtendedNegotiation: 0x56,
  SopClassCommonExtendedNegotiation: 0x57,
  UserIdentityRQ: 0x58,
  UserIdentityAC: 0x59,
} as const;

/** The DICOM Application Context Name (PS3.7 Annex A.2.1). */
export const DICOM_APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

/** Presentation context result/reason (PS3.8 Table 9-18). */
export const PresentationContextResult = {
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const;

export interface PresentationContextProposal {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface PresentationContextAnswer {
  id: number;
  result: number;
  transferSyntax: string;
}

export interface RoleSelection {
  sopClassUid: string;
  scuRole: boolean;
  scpRole: boolean;
}

export interface ExtendedNegotiation {
  sopClassUid: string;
  applicationInfo: Buffer;
}

export interface UserInformation {
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersionName?: string;
  asyncOps?: { invoked: number; performed: number };
  roleSelections: RoleSelection[];
  extendedNegotiations: ExtendedNegotiation[];
  /** Sub-items we neither use nor reject (e.g. user identity), kept raw for logging. */
  otherItems: { type: number; data: Buffer }[];
}

export interface AssociateRQ {
  type: typeof PduType.AssociateRQ;
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext: string;
  presentationContexts: PresentationContextProposal[];
  userInformation: UserInformation;
}

export interface AssociateAC {
  type: typeof PduType.AssociateAC;
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  applicationContext: string;
  presentationContexts: PresentationContextAnswer[];
  userInformation: UserInformation;
}

/** A-ASSOCIATE-RJ result, source and reason (PS3.8 Table 9-21). */
export interface AssociateRJ {
  type: typeof PduType.AssociateRJ;
  result: number;
  source: number;
  reason: number;
}

export interface Pdv {
  presentationContextId: number;
  isCommand: boolean;
  isLast: boolean;
  data: Buffer;
}

export interface PData {
  type: typeof PduType.PData;
  pdvs: Pdv[];
}

export interface ReleaseRQ {
  type: typeof PduType.ReleaseRQ;
}
export interface ReleaseRP {
  type: typeof PduType.ReleaseRP;
}

/** A-ABORT source and reason (PS3.8 Table 9-26). */
export interface Abort {
  type: typeof PduType.Abort;
  source: number;
  reason: number;
}

export type Pdu = AssociateRQ | AssociateAC | AssociateRJ | PData | ReleaseRQ | ReleaseRP | Abort;

export const RejectResult = { Permanent: 1, Transient: 2 } as const;
export const RejectSource = { ServiceUser: 1, ServiceProviderAcse: 2, ServiceProviderPresentation: 3 } as const;
/** Reasons when the source is the service user (PS3.8 Table 9-21). */
export const RejectReasonUser = {
  NoReason: 1,
  ApplicationContextNotSupported: 2,
  CallingAeNotRecognized: 3,
  CalledAeNotRecognized: 7,
} as const;
export const AbortSource = { ServiceUser: 0, ServiceProvider: 2 } as const;
export const AbortReason = {
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const;

// ---------------------------------------------------------------------------------------------------------
// Encoding

function pduHeader(type: number, length: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt8(type, 0);
  b.writeUInt32BE(length, 2);
  return b;
}

function item(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

/** AE titles are 16 bytes, space padded (PS3.8 §9.3.2). */
function aeField(title: string): Buffer {
  const b = Buffer.alloc(16, 0x20);
  b.write(title.slice(0, 16), 0, 'latin1');
  return b;
}

function encodeUserInformation(info: UserInformation): Buffer {
  const subItems: Buffer[] = [];
  const maxLen = Buffer.alloc(4);
  maxLen.writeUInt32BE(info.maxPduLength);
  subItems.push(item(ItemType.MaximumLength, maxLen));
  subItems.push(item(ItemType.ImplementationClassUID, ascii(info.implementationClassUid)));
  if (info.asyncOps) {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(info.asyncOps.invoked, 0);
    b.writeUInt16BE(info.asyncOps.performed, 2);
    subItems.push(item(ItemType.AsynchronousOperationsWindow, b));
  }
  for (const role of info.roleSelections) {
    const uid = ascii(role.sopClassUid);
    const b = Buffer.alloc(2 + uid.length + 2);
    b.writeUInt16BE(uid.length, 0);
    uid.copy(b, 2);
    b.writeUInt8(role.scuRole ? 1 : 0, 2 + uid.length);
    b.writeUInt8(role.scpRole ? 1 : 0, 3 + uid.length);
    subItems.push(item(ItemType.RoleSelection, b));
  }
  if (info.implementationVersionName)
    subItems.push(item(ItemType.ImplementationVersionName, ascii(info.implementationVersionName)));
  for (const ext of info.extendedNegotiations) {
    const uid = ascii(ext.sopClassUid);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(uid.length);
    subItems.push(item(ItemType.SopClassExtendedNegotiation, Buffer.concat([len, uid, ext.applicationInfo])));
  }
  return item(ItemType.UserInformation, Buffer.concat(subItems));
}

function encodeAssociate(pdu: AssociateRQ | AssociateAC): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(pdu.protocolVersion, 0);
  aeField(pdu.calledAeTitle).copy(fixed, 4);
  aeField(pdu.callingAeTitle).copy(fixed, 20);
  const parts: Buffer[] = [fixed, item(ItemType.ApplicationContext, ascii(pdu.applicationContext))];
  if (pdu.type === PduType.AssociateRQ) {
    for (const pc of pdu.presentationContexts) {
      const head = Buffer.from([pc.id, 0, 0, 0]);
      const subs = [
        item(ItemType.AbstractSyntax, ascii(pc.abstractSyntax)),
        ...pc.transferSyntaxes.map((ts) => item(ItemType.TransferSyntax, ascii(ts))),
      ];
      parts.push(item(ItemType.PresentationContextRQ, Buffer.concat([head, ...subs])));
    }
  } else {
    for (const pc of pdu.presentationContexts) {
      const head = Buffer.from([pc.id, 0, pc.result, 0]);
      parts.push(
        item(
          ItemType.PresentationContextAC,
          Buffer.concat([head, item(ItemType.TransferSyntax, ascii(pc.transferSyntax))]),
        ),
      );
    }
  }
  parts.push(encodeUserInformation(pdu.userInformation));
  const body = Buffer.concat(parts);
  return Buffer.concat([pduHeader(pdu.type, body.length), body]);
}

/** Encodes a P-DATA-TF PDU holding the given PDVs. */
export function encodePData(pdvs: readonly Pdv[]): Buffer {
  let length = 0;
  for (const pdv of pdvs) length += 6 + pdv.data.length;
  const out = Buffer.allocUnsafe(6 + length);
  out.writeUInt8(PduType.PData, 0);
  out.writeUInt8(0, 1);
  out.writeUInt32BE(length, 2);
  let off = 6;
  for (const pdv of pdvs) {
    out.writeUInt32BE(pdv.data.length + 2, off);
    out.writeUInt8(pdv.presentationContextId, off + 4);
    out.writeUInt8((pdv.isCommand ? 1 : 0) | (pdv.isLast ? 2 : 0), off + 5);
    pdv.data.copy(out, off + 6);
    off += 6 + pdv.data.length;
  }
  return out;
}

export function encodePdu(pdu: Pdu): Buffer {
  switch (pdu.type) {
    case PduType.AssociateRQ:
    case PduType.AssociateAC:
      return encodeAssociate(pdu);
    case PduType.AssociateRJ:
      return Buffer.concat([pduHeader(pdu.type, 4), Buffer.from([0, pdu.result, pdu.source, pdu.reason])]);
    case PduType.PData:
      return encodePData(pdu.pdvs);
    case PduType.ReleaseRQ:
    case PduType.ReleaseRP:
      return Buffer.concat([pduHeader(pdu.type, 4), Buffer.alloc(4)]);
    case PduType.Abort:
      return Buffer.concat([pduHeader(pdu.type, 4), Buffer.from([0, 0, pdu.source, pdu.reason])]);
  }
}
