import { describe, it, expect } from 'vitest';
import { encodePdu, PduType, AbortReason, type Pdu, type AssociateRQ } from './pdu.js';
import { PduParser, PduError } from './pdu-parser.js';

const rq: AssociateRQ = {
  type: PduType.AssociateRQ,
  protocolVersion: 1,
  calledAeTitle: 'ORTHANC',
  callingAeTitle: 'DICOMWEB',
  applicationContext: '1.2.840.10008.3.1.1.1',
  presentationContexts: [
    { id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2'] },
    { id: 3, abstractSyntax: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
  ],
  userInformation: {
    maxPduLength: 262144,
    implementationClassUid: '2.25.1.1',
    implementationVersionName: 'DWGW_0.1.0',
    roleSelections: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', scuRole: false, scpRole: true }],
    extendedNegotiations: [{ sopClassUid: '1.2.840.10008.5.1.4.1.2.2.1', applicationInfo: Buffer.from([0, 0, 1]) }],
    otherItems: [],
  },
};

const samples: Pdu[] = [
  rq,
  {
    type: PduType.AssociateAC,
    protocolVersion: 1,
    calledAeTitle: 'ORTHANC',
    callingAeTitle: 'DICOMWEB',
    applicationContext: '1.2.840.10008.3.1.1.1',
    presentationContexts: [
      { id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2.1' },
      { id: 3, result: 3, transferSyntax: '1.2.840.10008.1.2' },
    ],
    userInformation: {
      maxPduLength: 16384,
      implementationClassUid: '1.2.3',
      roleSelections: [],
      extendedNegotiations: [],
      otherItems: [],
    },
  },
  { type: PduType.AssociateRJ, result: 1, source: 1, reason: 7 },
  {
    type: PduType.PData,
    pdvs: [
      { presentationContextId: 1, isCommand: true, isLast: true, data: Buffer.from([1, 2, 3, 4]) },
      { presentationContextId: 3, isCommand: false, isLast: false, data: Buffer.alloc(300, 7) },
    ],
  },
  { type: PduType.ReleaseRQ },
  { type: PduType.ReleaseRP },
  { type: PduType.Abort, source: 2, reason: AbortReason.UnexpectedPdu },
];

const normalise = (p: Pdu): unknown => JSON.parse(JSON.stringify(p));

describe('PDU codec (PS3.8 §9.3)', () => {
  it.each(samples.map((p) => [p.type, p] as const))('round-trips PDU type %i', (_type, pdu) => {
    const [decoded, ...rest] = new PduParser(1 << 20).push(encodePdu(pdu));
    expect(rest).toEqual([]);
    expect(normalise(decoded as Pdu)).toEqual(normalise(pdu));
  });

  it('parses the same PDUs when the byte stream is split at every possible position', () => {
    const stream = Buffer.concat(samples.map(encodePdu));
    for (let cut = 1; cut < stream.length; cut++) {
      const parser = new PduParser(1 << 20);
      const out = [...parser.push(stream.subarray(0, cut)), ...parser.push(stream.subarray(cut))];
      expect(out.map(normalise)).toEqual(samples.map(normalise));
    }
  });

  it('parses a stream fed one byte at a time', () => {
    const stream = Buffer.concat(samples.map(encodePdu));
    const parser = new PduParser(1 << 20);
    const out: Pdu[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...parser.push(stream.subarray(i, i + 1)));
    expect(out.map(normalise)).toEqual(samples.map(normalise));
    expect(parser.bufferedBytes).toBe(0);
  });

  it('refuses a P-DATA-TF longer than the maximum length we announced, before buffering it', () => {
    const big = encodePdu({
      type: PduType.PData,
      pdvs: [{ presentationContextId: 1, isCommand: false, isLast: true, data: Buffer.alloc(5000) }],
    });
    const parser = new PduParser(4096);
    expect(() => parser.push(big.subarray(0, 6))).toThrow(PduError);
  });

  it.each([
    ['an unknown PDU type', Buffer.from([0x09, 0, 0, 0, 0, 4, 0, 0, 0, 0])],
    ['a short A-ABORT', Buffer.from([0x07, 0, 0, 0, 0, 2, 0, 0])],
    ['a PDV shorter than its header', Buffer.from([0x04, 0, 0, 0, 0, 5, 0, 0, 0, 1, 1])],
    ['a PDV with an even context id', Buffer.from([0x04, 0, 0, 0, 0, 7, 0, 0, 0, 3, 2, 3, 0])],
    [
      'an A-ASSOCIATE-RQ with a truncated item',
      Buffer.concat([
        Buffer.from([0x01, 0, 0, 0, 0, 72]),
        Buffer.from([0, 1, 0, 0]),
        Buffer.alloc(64, 0x20),
        Buffer.from([0x10, 0, 0, 40]),
      ]),
    ],
  ])('rejects %s with a PduError (→ A-ABORT), never a crash', (_what, bytes) => {
    expect(() => new PduParser(65536).push(bytes)).toThrow(PduError);
  });

  it('survives random garbage: every input either parses or throws PduError', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 2000; round++) {
      const base = encodePdu(samples[round % samples.length] as Pdu);
      const mutated = Buffer.from(base);
      for (let k = 0; k < 3; k++) mutated[rand() % mutated.length] = rand() & 0xff;
      try {
        new PduParser(65536).push(mutated);
      } catch (err) {
        expect(err).toBeInstanceOf(PduError);
      }
    }
  });
});
