import net from 'node:net';
import { outsideRequests } from '../request-context.js';
import tls from 'node:tls';
import {
  PduType,
  AbortSource,
  AbortReason,
  DICOM_APPLICATION_CONTEXT,
  PresentationContextResult,
  encodePdu,
  encodePData,
  type Pdu,
  type Pdv,
  type AssociateRQ,
  type AssociateAC,
  type AssociateRJ,
  type UserInformation,
  type PresentationContextProposal,
  type PresentationContextAnswer,
  type RoleSelection,
  type ExtendedNegotiation,
} from './pdu.js';
import { PduParser, PduError } from './pdu-parser.js';
import { quickAck } from './quick-ack.js';
import { decodeCommand, encodeCommand, type DimseCommand } from './command.js';
import {
  AssociationAbortedError,
  AssociationRejectedError,
  DimseTimeoutError,
  PeerUnreachableError,
  ProtocolError,
} from './errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

/** Who we say we are in every association (PS3.7 Annex D.3.3.2). */
export interface Implementation {
  classUid: string;
  versionName: string;
}

/** Receives the dataset of one DIMSE message, fragment by fragment. Returning a promise pauses the socket. */
export interface DatasetSink {
  write(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
  /** The association ended before the last fragment: drop what was written. */
  abort(reason: Error): void;
}

/** Incoming DIMSE traffic of an association goes to one handler. */
export interface MessageHandler {
  /** A whole command set arrived. When it announces a dataset, return the sink for it (undefined = discard). */
  onCommand(presentationContextId: number, command: DimseCommand): DatasetSink | undefined;
  /** The association is gone (released, aborted, or transport closed). */
  onClosed?(error: Error | undefined): void;
}

export interface AcceptedContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

export interface AssociationTimeouts {
  /** TCP connect (requestor). */
  connectMs: number;
  /** ARTIM (PS3.8 §9.1.5): waiting for A-ASSOCIATE-AC/RJ/RQ and A-RELEASE-RP. */
  artimMs: number;
}

export interface RequestOptions {
  host: string;
  port: number;
  calledAeTitle: string;
  callingAeTitle: string;
  presentationContexts: { abstractSyntax: string; transferSyntaxes: string[] }[];
  roleSelections?: RoleSelection[];
  extendedNegotiations?: ExtendedNegotiation[];
  implementation: Implementation;
  maxPduLength: number;
  timeouts: AssociationTimeouts;
  tls?: tls.ConnectionOptions;
  /** Local address to bind the outgoing connection to. */
  localAddress?: string;
  logger?: Logger;
}

/** The acceptor's answer to an A-ASSOCIATE-RQ. */
export type AcceptDecision =
  | {
      accept: true;
      presentationContexts: PresentationContextAnswer[];
      roleSelections?: RoleSelection[];
      extendedNegotiations?: ExtendedNegotiation[];
    }
  | { accept: false; result: number; source: number; reason: number };

export interface AcceptOptions {
  implementation: Implementation;
  maxPduLength: number;
  timeouts: Pick<AssociationTimeouts, 'artimMs'> & {
    /** How long a new connection has to send its A-ASSOCIATE-RQ (default: artimMs). */
    requestMs?: number;
    /** An established association on which the peer sends nothing for this long is aborted (0 = never). */
    idleMs?: number;
  };
  decide: (request: AssociateRQ) => AcceptDecision;
  logger?: Logger;
}

type State = 'awaiting-associate' | 'established' | 'awaiting-release' | 'closed';

const MAX_COMMAND_BYTES = 64 * 1024;

/**
 * One DICOM association over TCP or TLS (PS3.8 §9.2), as requestor or acceptor.
 *
 * Incoming bytes are read by a single `for await` loop: when a dataset sink returns a promise (a disk that
 * lags), the loop awaits it, the socket stops being read and TCP flow control slows the peer down.
 */
export class Association {
  readonly peerMaxPduLength: number;
  readonly acceptedContexts: ReadonlyMap<number, AcceptedContext>;
  readonly remoteAeTitle: string;
  readonly localAeTitle: string;
  readonly peerImplementation: { classUid: string; versionName?: string };
  readonly peerExtendedNegotiations: readonly ExtendedNegotiation[];
  readonly peerRoleSelections: readonly RoleSelection[];
  readonly closed: Promise<Error | undefined>;

  private state: State = 'established';
  private handler: MessageHandler | undefined;
  private sendChain: Promise<void> = Promise.resolve();
  private commandChunks: Buffer[] = [];
  private commandBytes = 0;
  private pendingDataset: { pcId: number; sink: DatasetSink } | undefined;
  private releaseWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private resolveClosed!: (e: Error | undefined) => void;
  private closeError: Error | undefined;
  private readonly log: Logger;
  private idleMs = 0;

  private constructor(
    private readonly socket: net.Socket,
    private readonly parser: PduParser,
    private readonly artimMs: number,
    init: {
      peerMaxPduLength: number;
      contexts: Map<number, AcceptedContext>;
      remoteAeTitle: string;
      localAeTitle: string;
      peer: UserInformation;
      roleSelections: RoleSelection[];
      extendedNegotiations: ExtendedNegotiation[];
    },
    logger: Logger,
    private readonly pending: Pdu[],
  ) {
    this.peerMaxPduLength = init.peerMaxPduLength;
    this.acceptedContexts = init.contexts;
    this.remoteAeTitle = init.remoteAeTitle;
    this.localAeTitle = init.localAeTitle;
    this.peerImplementation = {
      classUid: init.peer.implementationClassUid,
      ...(init.peer.implementationVersionName ? { versionName: init.peer.implementationVersionName } : {}),
    };
    this.peerExtendedNegotiations = init.extendedNegotiations;
    this.peerRoleSelections = init.roleSelections;
    this.log = logger;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get isOpen(): boolean {
    return this.state === 'established';
  }

  /** The peer's IP address (IPv4-mapped IPv6 addresses as plain IPv4). */
  get remoteAddress(): string {
    return plainAddress(this.socket.remoteAddress ?? '');
  }

  setHandler(handler: MessageHandler): void {
    this.handler = handler;
  }

  /** The accepted presentation context for an abstract syntax, preferring the given transfer syntaxes in order. */
  findContext(abstractSyntax: string, preferredTransferSyntaxes?: readonly string[]): AcceptedContext | undefined {
    let best: AcceptedContext | undefined;
    let bestRank = Number.POSITIVE_INFINITY;
    for (const pc of this.acceptedContexts.values()) {
      if (pc.abstractSyntax !== abstractSyntax) continue;
      const rank = preferredTransferSyntaxes ? preferredTransferSyntaxes.indexOf(pc.transferSyntax) : 0;
      const r = rank < 0 ? Number.MAX_SAFE_INTEGER : rank;
      if (r < bestRank) {
        best = pc;
        bestRank = r;
      }
    }
    return best;
  }

  // -------------------------------------------------------------------------------------------------------
  // Establishment

  /** Opens an association as requestor: TCP (or TLS) connect, A-ASSOCIATE-RQ, wait for AC or RJ. */
  static async request(options: RequestOptions): Promise<Association> {
    const log = (options.logger ?? silentLogger).child({
      peer: `${options.calledAeTitle}@${options.host}:${options.port}`,
    });
    // The socket is made outside the request that opens the association: its events (and what they log) belong to
    // no request, as the association serves later ones too; what the opener awaits continues in its own context.
    const socket = await outsideRequests(() => connectSocket(options));
    const parser = new PduParser(options.maxPduLength);
    const proposals: PresentationContextProposal[] = options.presentationContexts.map((pc, i) => ({
      id: 2 * i + 1,
      ...pc,
    }));
    if (proposals.length > 128)
      throw new RangeError('at most 128 presentation contexts may be proposed (PS3.8 §9.3.2.2)');
    const rq: AssociateRQ = {
      type: PduType.AssociateRQ,
      protocolVersion: 1,
      calledAeTitle: options.calledAeTitle,
      callingAeTitle: options.callingAeTitle,
      applicationContext: DICOM_APPLICATION_CONTEXT,
      presentationContexts: proposals,
      userInformation: {
        maxPduLength: options.maxPduLength,
        implementationClassUid: options.implementation.classUid,
        implementationVersionName: options.implementation.versionName,
        roleSelections: options.roleSelections ?? [],
        extendedNegotiations: options.extendedNegotiations ?? [],
        otherItems: [],
      },
    };
    socket.write(encodePdu(rq));
    let answer: AssociateAC | AssociateRJ;
    let leftover: Pdu[];
    try {
      ({ pdu: answer, rest: leftover } = (await awaitAssociatePdu(socket, parser, options.timeouts.artimMs, [
        PduType.AssociateAC,
        PduType.AssociateRJ,
      ])) as { pdu: AssociateAC | AssociateRJ; rest: Pdu[] });
    } catch (err) {
      socket.destroy();
      throw err;
    }
    if (answer.type === PduType.AssociateRJ) {
      socket.destroy();
      throw new AssociationRejectedError(answer.result, answer.source, answer.reason);
    }
    const contexts = new Map<number, AcceptedContext>();
    for (const pc of answer.presentationContexts) {
      const proposal = proposals.find((p) => p.id === pc.id);
      if (
        pc.result === PresentationContextResult.Acceptance &&
        proposal &&
        proposal.transferSyntaxes.includes(pc.transferSyntax)
      ) {
        contexts.set(pc.id, { id: pc.id, abstractSyntax: proposal.abstractSyntax, transferSyntax: pc.transferSyntax });
      }
    }
    log.debug(
      { accepted: contexts.size, proposed: proposals.length, peerMaxPdu: answer.userInformation.maxPduLength },
      'association established',
    );
    const association = new Association(
      socket,
      parser,
      options.timeouts.artimMs,
      {
        peerMaxPduLength: answer.userInformation.maxPduLength,
        contexts,
        remoteAeTitle: options.calledAeTitle,
        localAeTitle: options.callingAeTitle,
        peer: answer.userInformation,
        roleSelections: answer.userInformation.roleSelections,
        extendedNegotiations: answer.userInformation.extendedNegotiations,
      },
      log,
      leftover,
    );
    association.startReading();
    return association;
  }

  /** Runs the acceptor side on a freshly accepted socket: wait for A-ASSOCIATE-RQ (ARTIM), then accept or reject. */
  static async accept(socket: net.Socket, options: AcceptOptions): Promise<Association | undefined> {
    const log = (options.logger ?? silentLogger).child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    socket.setNoDelay(true);
    const parser = new PduParser(options.maxPduLength);
    let request: AssociateRQ;
    let leftover: Pdu[];
    try {
      ({ pdu: request, rest: leftover } = (await awaitAssociatePdu(
        socket,
        parser,
        options.timeouts.requestMs ?? options.timeouts.artimMs,
        [PduType.AssociateRQ],
      )) as { pdu: AssociateRQ; rest: Pdu[] });
    } catch (err) {
      log.warn({ err }, 'no valid A-ASSOCIATE-RQ; closing');
      if (err instanceof PduError && !socket.destroyed)
        socket.end(encodePdu({ type: PduType.Abort, source: AbortSource.ServiceProvider, reason: err.abortReason }));
      else socket.destroy();
      return undefined;
    }
    const decision = options.decide(request);
    if (!decision.accept) {
      log.info(
        {
          calling: request.callingAeTitle,
          called: request.calledAeTitle,
          result: decision.result,
          source: decision.source,
          reason: decision.reason,
        },
        'association rejected',
      );
      socket.write(
        encodePdu({
          type: PduType.AssociateRJ,
          result: decision.result,
          source: decision.source,
          reason: decision.reason,
        }),
      );
      // PS3.8 §9.2 Sta13: wait for the peer to close the transport, bounded by ARTIM.
      closeAfter(socket, options.timeouts.artimMs);
      return undefined;
    }
    const ac: AssociateAC = {
      type: PduType.AssociateAC,
      protocolVersion: 1,
      calledAeTitle: request.calledAeTitle,
      callingAeTitle: request.callingAeTitle,
      applicationContext: DICOM_APPLICATION_CONTEXT,
      presentationContexts: decision.presentationContexts,
      userInformation: {
        maxPduLength: options.maxPduLength,
        implementationClassUid: options.implementation.classUid,
        implementationVersionName: options.implementation.versionName,
        roleSelections: decision.roleSelections ?? [],
        extendedNegotiations: decision.extendedNegotiations ?? [],
        otherItems: [],
      },
    };
    socket.write(encodePdu(ac));
    const contexts = new Map<number, AcceptedContext>();
    for (const pc of decision.presentationContexts) {
      const proposal = request.presentationContexts.find((p) => p.id === pc.id);
      if (pc.result === PresentationContextResult.Acceptance && proposal)
        contexts.set(pc.id, { id: pc.id, abstractSyntax: proposal.abstractSyntax, transferSyntax: pc.transferSyntax });
    }
    const association = new Association(
      socket,
      parser,
      options.timeouts.artimMs,
      {
        peerMaxPduLength: request.userInformation.maxPduLength,
        contexts,
        remoteAeTitle: request.callingAeTitle,
        localAeTitle: request.calledAeTitle,
        peer: request.userInformation,
        roleSelections: request.userInformation.roleSelections,
        extendedNegotiations: request.userInformation.extendedNegotiations,
      },
      log.child({ calling: request.callingAeTitle }),
      leftover,
    );
    association.idleMs = options.timeouts.idleMs ?? 0;
    log.debug({ calling: request.callingAeTitle, accepted: contexts.size }, 'association accepted');
    return association;
  }

  /** Starts the reader loop (acceptors call it after installing their handler). */
  startReading(): void {
    void this.readLoop();
  }

  // -------------------------------------------------------------------------------------------------------
  // Sending

  /**
   * Sends one DIMSE message: the command set, then the dataset (bytes or a stream of chunks) fragmented to the
   * peer's maximum PDU length. Messages are serialised; the returned promise settles once the bytes are queued
   * to the socket with backpressure respected.
   */
  send(presentationContextId: number, command: DimseCommand, dataset?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    const task = this.sendChain.then(() => this.sendNow(presentationContextId, command, dataset));
    this.sendChain = task.catch(() => {});
    return task;
  }

  private async sendNow(pcId: number, command: DimseCommand, dataset?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    if (this.state !== 'established') throw new AssociationAbortedError('association is no longer open');
    const fragment = this.maxFragment();
    const commandBytes = encodeCommand({ ...command, hasDataset: dataset !== undefined });
    const pdus: Buffer[] = [];
    for (let off = 0; off < commandBytes.length; off += fragment) {
      const data = commandBytes.subarray(off, off + fragment);
      pdus.push(
        encodePData([
          { presentationContextId: pcId, isCommand: true, isLast: off + fragment >= commandBytes.length, data },
        ]),
      );
    }
    if (dataset === undefined || Buffer.isBuffer(dataset)) {
      if (dataset) {
        if (dataset.length === 0)
          pdus.push(encodePData([{ presentationContextId: pcId, isCommand: false, isLast: true, data: dataset }]));
        for (let off = 0; off < dataset.length; off += fragment) {
          const data = dataset.subarray(off, off + fragment);
          pdus.push(
            encodePData([
              { presentationContextId: pcId, isCommand: false, isLast: off + fragment >= dataset.length, data },
            ]),
          );
        }
      }
      // One write for a small message: with TCP_NODELAY each write is its own segment.
      await this.write(pdus.length === 1 ? (pdus[0] as Buffer) : Buffer.concat(pdus));
      return;
    }
    await this.write(Buffer.concat(pdus));
    let held: Buffer | undefined;
    let carry: Buffer[] = [];
    let carried = 0;
    const flush = async (isLast: boolean): Promise<void> => {
      if (held) await this.write(encodePData([{ presentationContextId: pcId, isCommand: false, isLast, data: held }]));
      held = undefined;
    };
    for await (const chunk of dataset) {
      carry.push(chunk);
      carried += chunk.length;
      while (carried >= fragment) {
        const joined = carry.length === 1 ? (carry[0] as Buffer) : Buffer.concat(carry);
        await flush(false);
        held = joined.subarray(0, fragment);
        const rest = joined.subarray(fragment);
        carry = rest.length ? [rest] : [];
        carried = rest.length;
      }
      if (this.state !== 'established') throw new AssociationAbortedError('association closed while sending a dataset');
    }
    if (carried > 0) {
      await flush(false);
      held = carry.length === 1 ? (carry[0] as Buffer) : Buffer.concat(carry);
    }
    if (!held) held = Buffer.alloc(0);
    await flush(true);
  }

  /** Largest PDV value that keeps a single-PDV P-DATA-TF within the peer's maximum length (PS3.8 §D.1). */
  private maxFragment(): number {
    const peerMax = this.peerMaxPduLength > 0 ? this.peerMaxPduLength : 1 << 20;
    return Math.max(peerMax - 6, 64);
  }

  private write(bytes: Buffer): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new AssociationAbortedError('connection closed'));
    return new Promise((resolve, reject) => {
      const ok = this.socket.write(bytes, (err) => {
        if (err) reject(err);
      });
      if (ok) resolve();
      else {
        const onDrain = (): void => {
          cleanup();
          resolve();
        };
        const onClose = (): void => {
          cleanup();
          reject(new AssociationAbortedError('connection closed while sending'));
        };
        const cleanup = (): void => {
          this.socket.off('drain', onDrain);
          this.socket.off('close', onClose);
        };
        this.socket.once('drain', onDrain);
        this.socket.once('close', onClose);
      }
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // Release and abort

  /** Orderly release (PS3.8 §7.2): A-RELEASE-RQ, wait for A-RELEASE-RP within ARTIM, then close. */
  async release(): Promise<void> {
    if (this.state !== 'established') return;
    await this.sendChain;
    if (this.state !== 'established') return;
    this.state = 'awaiting-release';
    const done = new Promise<void>((resolve, reject) => {
      this.releaseWaiter = { resolve, reject };
    });
    this.socket.write(encodePdu({ type: PduType.ReleaseRQ }));
    const timer = setTimeout(
      () => this.releaseWaiter?.reject(new DimseTimeoutError('release', this.artimMs)),
      this.artimMs,
    );
    try {
      await done;
      this.socket.end();
      this.finish(undefined);
    } catch (err) {
      this.abort();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A-ABORT (PS3.8 §7.3) and close the connection at once; `cause` is why, for whoever waits on the association. */
  abort(reason: number = AbortReason.NotSpecified, source: number = AbortSource.ServiceUser, cause?: Error): void {
    if (this.state === 'closed') return;
    if (!this.socket.destroyed) this.socket.end(encodePdu({ type: PduType.Abort, source, reason }));
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.finish(cause ?? new AssociationAbortedError('association aborted locally'));
  }

  private finish(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeError = error;
    if (this.pendingDataset) {
      this.pendingDataset.sink.abort(error ?? new AssociationAbortedError('association closed during a dataset'));
      this.pendingDataset = undefined;
    }
    this.releaseWaiter?.reject(error ?? new AssociationAbortedError('association closed'));
    this.handler?.onClosed?.(error);
    this.resolveClosed(error);
  }

  // -------------------------------------------------------------------------------------------------------
  // Receiving

  private async readLoop(): Promise<void> {
    // The idle clock runs only while we wait for the peer, not while a sink (the disk) holds the loop.
    let idleTimer: NodeJS.Timeout | undefined;
    const waitForPeer = (): void => {
      if (this.idleMs <= 0 || this.state === 'closed') return;
      idleTimer = setTimeout(() => {
        this.log.warn({ idleMs: this.idleMs }, 'peer idle on an open association; aborting');
        this.abort(AbortReason.NotSpecified, AbortSource.ServiceProvider);
      }, this.idleMs);
      idleTimer.unref();
    };
    try {
      for (const pdu of this.pending.splice(0)) await this.handlePdu(pdu);
      waitForPeer();
      for await (const chunk of this.socket as AsyncIterable<Buffer>) {
        clearTimeout(idleTimer);
        quickAck(this.socket);
        for (const pdu of this.parser.push(chunk)) {
          const r = this.handlePdu(pdu);
          if (r) await r;
          if (this.state === 'closed') break;
        }
        if (this.state === 'closed') break;
        waitForPeer();
      }
      if (this.state !== 'closed')
        this.finish(new AssociationAbortedError('the peer closed the connection without releasing'));
    } catch (err) {
      // The peer broke the protocol: A-ABORT it, and keep the reason for the request and the log (DWG_PACS_PROTOCOL).
      if (err instanceof PduError) {
        this.log.warn({ err: err.message }, 'malformed PDU; aborting association');
        this.abort(err.abortReason, AbortSource.ServiceProvider, new ProtocolError(`malformed PDU: ${err.message}`));
      } else if (err instanceof ProtocolError) {
        this.log.warn({ err: err.message }, 'protocol violation; aborting association');
        this.abort(AbortReason.UnexpectedPdu, AbortSource.ServiceProvider, err);
      } else if (this.state !== 'closed') {
        this.socket.destroy();
        this.finish(new AssociationAbortedError(`connection lost: ${(err as Error).message}`));
      }
    } finally {
      clearTimeout(idleTimer);
    }
  }

  private handlePdu(pdu: Pdu): void | Promise<void> {
    switch (pdu.type) {
      case PduType.PData:
        if (this.state !== 'established' && this.state !== 'awaiting-release')
          throw new ProtocolError('P-DATA-TF outside an established association');
        return this.handlePData(pdu.pdvs);
      case PduType.ReleaseRQ:
        // PS3.8 §9.2 AR-2/AR-4: answer, then let the requestor close the transport (bounded by ARTIM).
        this.socket.write(encodePdu({ type: PduType.ReleaseRP }));
        closeAfter(this.socket, this.artimMs);
        this.finish(undefined);
        return;
      case PduType.ReleaseRP:
        if (this.state !== 'awaiting-release') throw new ProtocolError('unexpected A-RELEASE-RP');
        this.releaseWaiter?.resolve();
        return;
      case PduType.Abort:
        this.socket.destroy();
        this.finish(
          new AssociationAbortedError(
            `the peer aborted the association (source ${pdu.source}, reason ${pdu.reason})`,
            pdu.source,
            pdu.reason,
          ),
        );
        return;
      default:
        throw new ProtocolError(`unexpected PDU type ${pdu.type} on an established association`);
    }
  }

  private async handlePData(pdvs: readonly Pdv[]): Promise<void> {
    for (const pdv of pdvs) {
      if (!this.acceptedContexts.has(pdv.presentationContextId))
        throw new ProtocolError(`PDV on presentation context ${pdv.presentationContextId}, which was not accepted`);
      if (pdv.isCommand) {
        if (this.pendingDataset) throw new ProtocolError('command fragment while a dataset was expected');
        this.commandChunks.push(pdv.data);
        this.commandBytes += pdv.data.length;
        if (this.commandBytes > MAX_COMMAND_BYTES) throw new ProtocolError('command set too large');
        if (!pdv.isLast) continue;
        const bytes = Buffer.concat(this.commandChunks);
        this.commandChunks = [];
        this.commandBytes = 0;
        let command: DimseCommand;
        try {
          command = decodeCommand(bytes);
        } catch (err) {
          throw new ProtocolError(`undecodable command set: ${(err as Error).message}`);
        }
        const sink = this.handler?.onCommand(pdv.presentationContextId, command);
        if (command.hasDataset) this.pendingDataset = { pcId: pdv.presentationContextId, sink: sink ?? discardSink };
      } else {
        const pending = this.pendingDataset;
        if (!pending) throw new ProtocolError('dataset fragment without a command announcing it');
        if (pending.pcId !== pdv.presentationContextId)
          throw new ProtocolError('dataset fragment on another presentation context');
        if (pdv.data.length) {
          const w = pending.sink.write(pdv.data);
          if (w) await w;
        }
        if (pdv.isLast) {
          this.pendingDataset = undefined;
          const e = pending.sink.end();
          if (e) await e;
        }
      }
    }
  }

  /** Why the association ended, once it has. */
  get closeReason(): Error | undefined {
    return this.closeError;
  }
}

/** '::ffff:10.0.0.1' → '10.0.0.1': a dual-stack listener reports IPv4 peers in IPv6 form. */
export const plainAddress = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

const discardSink: DatasetSink = { write: () => {}, end: () => {}, abort: () => {} };

function closeAfter(socket: net.Socket, ms: number): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.end();
}

async function connectSocket(options: RequestOptions): Promise<net.Socket> {
  const address = `${options.host}:${options.port}`;
  return new Promise<net.Socket>((resolve, reject) => {
    const common = {
      host: options.host,
      port: options.port,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    };
    const socket = options.tls ? tls.connect({ ...common, ...options.tls }) : net.connect(common);
    const readyEvent = options.tls ? 'secureConnect' : 'connect';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DimseTimeoutError('connect', options.timeouts.connectMs));
    }, options.timeouts.connectMs);
    socket.once(readyEvent, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.setNoDelay(true); // Nagle + delayed ACK would cost ~40 ms per exchange (docs/conformance.md §8.2)
      socket.on('error', () => {}); // errors surface through the reader loop's close
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new PeerUnreachableError(address, err));
    };
    socket.once('error', onError);
  });
}

/**
 * Reads from the socket until one A-ASSOCIATE PDU of the expected types arrives (ARTIM-bounded), without
 * consuming the bytes that follow it: those are handed back so the reader loop sees them.
 */
async function awaitAssociatePdu(
  socket: net.Socket,
  parser: PduParser,
  artimMs: number,
  expected: number[],
): Promise<{ pdu: Pdu; rest: Pdu[] }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new DimseTimeoutError('association', artimMs)), artimMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onErr);
      socket.pause();
    };
    const fail = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      quickAck(socket);
      let pdus: Pdu[];
      try {
        pdus = parser.push(chunk);
      } catch (err) {
        fail(err as Error);
        return;
      }
      const first = pdus[0];
      if (!first) return;
      if (first.type === PduType.Abort)
        return fail(
          new AssociationAbortedError(
            `the peer aborted during negotiation (source ${first.source}, reason ${first.reason})`,
            first.source,
            first.reason,
          ),
        );
      if (!expected.includes(first.type))
        return fail(
          new PduError(`unexpected PDU type ${first.type} during association negotiation`, AbortReason.UnexpectedPdu),
        );
      cleanup();
      resolve({ pdu: first, rest: pdus.slice(1) });
    };
    const onClose = (): void =>
      fail(new AssociationAbortedError('the peer closed the connection during association negotiation'));
    const onErr = (err: Error): void =>
      fail(new AssociationAbortedError(`connection error during negotiation: ${err.message}`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onErr);
    socket.resume();
  });
}
