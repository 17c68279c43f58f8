import {
  PduType,
  ItemType,
  AbortReason,
  type Pdu,
  type Pdv,
  type UserInformation,
  type PresentationContextProposal,
  type PresentationContextAnswer,
} from './pdu.js';

/** A PDU that cannot be accepted; the association answers it with A-ABORT carrying `abortReason`. */
export class PduError extends Error {
  constructor(
    message: string,
    readonly abortReason: number = AbortReason.InvalidPduParameterValue,
  ) {
    super(message);
    this.name = 'PduError';
  }
}

/** Non-P-DATA PDUs are small; cap them so a hostile length cannot make us buffer gigabytes. */
const MAX_CONTROL_PDU_LENGTH = 1 << 20;

/**
 * Incremental PDU parser (PS3.8 §9.3): push socket chunks of any size, get whole PDUs back.
 * Memory is bounded by one PDU, itself bounded by the maximum length we advertised.
 */
export class PduParser {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** @param maxPDataLength the Maximum Length we announced (0 = unlimited, which we never announce). */
  constructor(private readonly maxPDataLength: number) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Pdu[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Pdu[] = [];
    for (;;) {
      if (this.buffered < 6) return out;
      const header = this.peek(6);
      const type = header.readUInt8(0);
      const length = header.readUInt32BE(2);
      if (type < PduType.AssociateRQ || type > PduType.Abort)
        throw new PduError(`unrecognised PDU type 0x${type.toString(16)}`, AbortReason.UnrecognizedPdu);
      const limit =
        type === PduType.PData ? (this.maxPDataLength > 0 ? this.maxPDataLength : 0xffffffff) : MAX_CONTROL_PDU_LENGTH;
      if (length > limit)
        throw new PduError(
          `PDU of type 0x${type.toString(16)} is ${length} bytes, over the limit of ${limit}`,
          AbortReason.InvalidPduParameterValue,
        );
      if (this.buffered < 6 + length) return out;
      const whole = this.take(6 + length);
      out.push(parsePdu(type, whole.subarray(6)));
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, Math.min(this.buffered, Math.max(n, 0))).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    let result: Buffer;
    if (first.length >= n) {
      result = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      result = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0] as Buffer;
        const use = Math.min(c.length, n - off);
        c.copy(result, off, 0, use);
        off += use;
        if (use === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(use);
      }
    }
    this.buffered -= n;
    return result;
  }
}

class Cursor {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length)
      throw new PduError(`${this.what}: truncated (need ${n} bytes at ${this.pos} of ${this.buf.length})`);
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
}

/** UIDs and AE titles in PDUs may be NUL- or space-padded by some peers. */
const text = (b: Buffer): string =>
  b
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');

function parsePdu(type: number, body: Buffer): Pdu {
  switch (type) {
    case PduType.AssociateRQ:
    case PduType.AssociateAC:
      return parseAssociate(type, body);
    case PduType.AssociateRJ: {
      if (body.length !== 4) throw new PduError('A-ASSOCIATE-RJ must be 4 bytes');
      return {
        type: PduType.AssociateRJ,
        result: body.readUInt8(1),
        source: body.readUInt8(2),
        reason: body.readUInt8(3),
      };
    }
    case PduType.PData:
      return { type: PduType.PData, pdvs: parsePdvs(body) };
    case PduType.ReleaseRQ:
      if (body.length !== 4) throw new PduError('A-RELEASE-RQ must be 4 bytes');
      return { type: PduType.ReleaseRQ };
    case PduType.ReleaseRP:
      if (body.length !== 4) throw new PduError('A-RELEASE-RP must be 4 bytes');
      return { type: PduType.ReleaseRP };
    default: {
      if (body.length !== 4) throw new PduError('A-ABORT must be 4 bytes');
      return { type: PduType.Abort, source: body.readUInt8(2), reason: body.readUInt8(3) };
    }
  }
}

function parsePdvs(body: Buffer): Pdv[] {
  const c = new Cursor(body, 'P-DATA-TF');
  const pdvs: Pdv[] = [];
  while (!c.done) {
    const length = c.u32();
    if (length < 2) throw new PduError('PDV item shorter than its header');
    const pcId = c.u8();
    const control = c.u8();
    if (pcId % 2 === 0) throw new PduError(`even presentation context ID ${pcId}`);
    pdvs.push({
      presentationContextId: pcId,
      isCommand: (control & 1) === 1,
      isLast: (control & 2) === 2,
      data: c.bytes(length - 2),
    });
  }
  if (pdvs.length === 0) throw new PduError('P-DATA-TF without PDV items');
  return pdvs;
}

function parseAssociate(type: typeof PduType.AssociateRQ | typeof PduType.AssociateAC, body: Buffer): Pdu {
  const what = type === PduType.AssociateRQ ? 'A-ASSOCIATE-RQ' : 'A-ASSOCIATE-AC';
  const c = new Cursor(body, what);
  const protocolVersion = c.u16();
  if ((protocolVersion & 1) !== 1) throw new PduError(`${what}: protocol version ${protocolVersion} not supported`);
  c.u16();
  const calledAeTitle = text(c.bytes(16));
  const callingAeTitle = text(c.bytes(16));
  c.bytes(32);
  let applicationContext = '';
  const proposals: PresentationContextProposal[] = [];
  const answers: PresentationContextAnswer[] = [];
  let userInformation: UserInformation | undefined;
  while (!c.done) {
    const itemType = c.u8();
    c.u8();
    const len = c.u16();
    const data = c.bytes(len);
    switch (itemType) {
      case ItemType.ApplicationContext:
        applicationContext = text(data);
        break;
      case ItemType.PresentationContextRQ:
        if (type === PduType.AssociateRQ) proposals.push(parsePresentationContextRQ(data));
        else throw new PduError(`${what}: presentation context RQ item in an AC`, AbortReason.UnexpectedPduParameter);
        break;
      case ItemType.PresentationContextAC:
        if (type === PduType.AssociateAC) answers.push(parsePresentationContextAC(data));
        else throw new PduError(`${what}: presentation context AC item in an RQ`, AbortReason.UnexpectedPduParameter);
        break;
      case ItemType.UserInformation:
        userInformation = parseUserInformation(data);
        break;
      default:
        throw new PduError(
          `${what}: unrecognised item type 0x${itemType.toString(16)}`,
          AbortReason.UnrecognizedPduParameter,
        );
    }
  }
  if (!applicationContext) throw new PduError(`${what}: no application context item`);
  if (!userInformation) throw new PduError(`${what}: no user information item`);
  return type === PduType.AssociateRQ
    ? {
        type,
        protocolVersion,
        calledAeTitle,
        callingAeTitle,
        applicationContext,
        presentationContexts: proposals,
        userInformation,
      }
    : {
        type,
        protocolVersion,
        calledAeTitle,
        callingAeTitle,
        applicationContext,
        presentationContexts: answers,
        userInformation,
      };
}

function* subItems(data: Buffer, what: string): Generator<{ type: number; data: Buffer }> {
  const c = new Cursor(data, what);
  while (!c.done) {
    const type = c.u8();
    c.u8();
    const len = c.u16();
    yield { type, data: c.bytes(len) };
  }
}

function parsePresentationContextRQ(data: Buffer): PresentationContextProposal {
  const c = new Cursor(data, 'presentation context');
  const id = c.u8();
  c.bytes(3);
  let abstractSyntax = '';
  const transferSyntaxes: string[] = [];
  for (const sub of subItems(data.subarray(4), 'presentation context')) {
    if (sub.type === ItemType.AbstractSyntax) abstractSyntax = text(sub.data);
    else if (sub.type === ItemType.TransferSyntax) transferSyntaxes.push(text(sub.data));
    else
      throw new PduError(
        `presentation context ${id}: unrecognised sub-item 0x${sub.type.toString(16)}`,
        AbortReason.UnrecognizedPduParameter,
      );
  }
  if (id % 2 === 0) throw new PduError(`presentation context ID ${id} is even`);
  if (!abstractSyntax) throw new PduError(`presentation context ${id}: no abstract syntax`);
  if (transferSyntaxes.length === 0) throw new PduError(`presentation context ${id}: no transfer syntax`);
  return { id, abstractSyntax, transferSyntaxes };
}

function parsePresentationContextAC(data: Buffer): PresentationContextAnswer {
  const c = new Cursor(data, 'presentation context');
  const id = c.u8();
  c.u8();
  const result = c.u8();
  c.u8();
  let transferSyntax = '';
  for (const sub of subItems(data.subarray(4), 'presentation context')) {
    if (sub.type === ItemType.TransferSyntax) transferSyntax = text(sub.data);
  }
  return { id, result, transferSyntax };
}

function parseUserInformation(data: Buffer): UserInformation {
  const info: UserInformation = {
    maxPduLength: 0,
    implementationClassUid: '',
    roleSelections: [],
    extendedNegotiations: [],
    otherItems: [],
  };
  for (const sub of subItems(data, 'user information')) {
    const c = new Cursor(sub.data, 'user information sub-item');
    switch (sub.type) {
      case ItemType.MaximumLength:
        info.maxPduLength = c.u32();
        break;
      case ItemType.ImplementationClassUID:
        info.implementationClassUid = text(sub.data);
        break;
      case ItemType.ImplementationVersionName:
        info.implementationVersionName = text(sub.data);
        break;
      case ItemType.AsynchronousOperationsWindow:
        info.asyncOps = { invoked: c.u16(), performed: c.u16() };
        break;
      case ItemType.RoleSelection: {
        const uidLength = c.u16();
        const sopClassUid = text(c.bytes(uidLength));
        info.roleSelections.push({ sopClassUid, scuRole: c.u8() === 1, scpRole: c.u8() === 1 });
        break;
      }
      case ItemType.SopClassExtendedNegotiation: {
        const uidLength = c.u16();
        const sopClassUid = text(c.bytes(uidLength));
        info.extendedNegotiations.push({ sopClassUid, applicationInfo: Buffer.from(sub.data.subarray(c.pos)) });
        break;
      }
      default:
        info.otherItems.push({ type: sub.type, data: Buffer.from(sub.data) });
    }
  }
  return info;
}
