import net from 'node:net';
import tls from 'node:tls';
import {
  Association,
  plainAddress,
  type AcceptDecision,
  type DatasetSink,
  type Implementation,
} from './association.js';
import { CommandField, type DimseCommand } from './command.js';
import { Status, statusHex } from '../dicom/status.js';
import {
  AbortReason,
  AbortSource,
  PresentationContextResult,
  RejectReasonUser,
  RejectResult,
  RejectSource,
  type AssociateRQ,
  type PresentationContextAnswer,
} from './pdu.js';
import { SopClass, STORAGE_SOP_CLASSES } from './sop-classes.js';
import {
  STORABLE_TRANSFER_SYNTAXES,
  UNCOMPRESSED_TRANSFER_SYNTAXES,
  TransferSyntax,
} from '../dicom/transfer-syntax.js';
import type { InstanceStore, StoredInstance } from '../cache/instance-store.js';
import { receiveInstance, type ArrivedUids, type StoreRefusal } from '../cache/instance-receiver.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

export interface StorageScpOptions {
  aeTitle: string;
  host: string;
  port: number;
  /** Empty: any calling AE title. A filter, not authentication: AE titles are trivially spoofed. */
  allowedCallingAeTitles: readonly string[];
  /** Peer addresses allowed to connect (CIDRs or addresses); empty: any. Checked at TCP accept. */
  allowedPeers?: readonly string[];
  /** Established associations at once; beyond, A-ASSOCIATE-RJ transient, local limit exceeded (PS3.8 §9.3.4). */
  maxAssociations: number;
  maxPduLength: number;
  artimTimeoutMs: number;
  /** How long a new connection has to send its A-ASSOCIATE-RQ; it holds a slot meanwhile (default: artimTimeoutMs). */
  requestTimeoutMs?: number;
  /** Largest dataset of one C-STORE; beyond it the association is aborted and the partial file deleted. */
  maxDatasetBytes?: number;
  /** Abort an association whose peer sends nothing for this long (0 or absent: never). */
  idleTimeoutMs?: number;
  implementation: Implementation;
  store: InstanceStore;
  /** Decides every C-STORE: only what it admits is stored, and it hears of each stored instance. */
  destination: StoreDestination;
  /** A refused connection or C-STORE (for the audit trail's Security Alert). */
  onRefused?: (event: RefusedEvent) => void;
  tls?: tls.TlsOptions;
  logger?: Logger;
  /**
   * The level of the line each stored instance logs: `info` where the instance is the gateway's to keep (its
   * archive: an operator follows what modalities send), `debug` (default) where it is a cached C-MOVE arrival.
   */
  storedLogLevel?: 'info' | 'debug';
}

/** One C-STORE-RQ as the Storage SCP sees it, before any data. */
export interface StoreRequest {
  sopClassUid: string;
  sopInstanceUid: string;
  callingAeTitle: string;
  peerAddress: string;
  /** Present when the C-STORE is a C-MOVE sub-operation and the PACS says so (PS3.7 §9.3.1.1). */
  moveOriginator?: { aeTitle: string; messageId: number };
}

/** What a store destination answers to a C-STORE-RQ: refuse at once, or check the data and hear of it once durable. */
export type StoreAdmission =
  | { refusal: StoreRefusal }
  | {
      /** Where the instance is written (default: the Storage SCP's store): the destination that takes it decides. */
      store?: InstanceStore;
      /** Checks the whole dataset before it is put in place, beyond its command's UIDs (the SCP checks those). */
      verify?: (arrived: ArrivedUids) => Promise<StoreRefusal | undefined>;
      /**
       * The instance is durable on disk. The C-STORE is answered once this returns: Success, or the refusal it
       * returns (the destination could not take it in, and has removed it).
       */
      stored: (stored: StoredEvent) => void | Promise<StoreRefusal | undefined>;
    };

/** A dataset whose own SOP Class or Instance UID differs from its C-STORE command's (PS3.4 §B.2.3). */
export function commandMismatch(
  command: { sopClassUid: string; sopInstanceUid: string },
  arrived: ArrivedUids,
): StoreRefusal | undefined {
  if (arrived.sopInstanceUid !== command.sopInstanceUid)
    return {
      status: Status.UnableToProcess,
      comment: "the dataset's SOP Instance UID differs from the Affected SOP Instance UID",
    };
  if (arrived.sopClassUid !== command.sopClassUid)
    return {
      status: Status.IdentifierDoesNotMatchSOPClass,
      comment: "the dataset's SOP Class UID differs from the Affected SOP Class UID",
    };
  return undefined;
}

/** Where the Storage SCP's instances go (in front of a PACS: the retrieval mediator). */
export interface StoreDestination {
  admitStore(request: StoreRequest): StoreAdmission;
}

/** What the destination learns of each instance that is safely on disk. */
export interface StoredEvent extends StoredInstance {
  callingAeTitle: string;
  moveOriginator?: { aeTitle: string; messageId: number };
}

/** A Storage SCP's work since it started: associations by outcome, C-STOREs by outcome, bytes stored. */
export interface StorageScpTallies {
  /** Associations accepted. */
  associationsAccepted: number;
  /** Associations rejected (AE title, capacity) and connections closed before one (address, too many waiting). */
  associationsRejected: number;
  /** Instances stored (Success, a new copy kept). */
  stored: number;
  storedBytes: number;
  /** Instances answered Success whose archived copy was kept (archive.duplicates: keep). */
  duplicates: number;
  /** C-STOREs refused: not ours to take, or not what their command said. */
  refused: number;
  /** C-STOREs that failed on our side (disk, index) or ended mid-dataset. */
  failed: number;
}

export interface RefusedEvent {
  peerAddress: string;
  callingAeTitle?: string;
  sopInstanceUid?: string;
  status?: number;
  reason: string;
}

const acceptedSyntaxes = new Set(STORABLE_TRANSFER_SYNTAXES);
const uncompressed = new Set(UNCOMPRESSED_TRANSFER_SYNTAXES.concat('1.2.840.10008.1.2.2'));

/**
 * Decides an A-ASSOCIATE-RQ (PS3.8 §7.1.1): the called AE title must be ours (else reject, reason 7), the
 * calling AE title on the allow-list when there is one (else reason 3). Storage SOP classes are accepted
 * with the first proposed transfer syntax we store as received; Verification with an uncompressed one.
 */
export function decideAssociation(
  rq: AssociateRQ,
  aeTitle: string,
  allowed: readonly string[],
  atCapacity: boolean,
): AcceptDecision {
  if (rq.calledAeTitle !== aeTitle)
    return {
      accept: false,
      result: RejectResult.Permanent,
      source: RejectSource.ServiceUser,
      reason: RejectReasonUser.CalledAeNotRecognized,
    };
  if (allowed.length > 0 && !allowed.includes(rq.callingAeTitle))
    return {
      accept: false,
      result: RejectResult.Permanent,
      source: RejectSource.ServiceUser,
      reason: RejectReasonUser.CallingAeNotRecognized,
    };
  // PS3.8 Table 9-21: source 3 (presentation), reason 2 "local limit exceeded", transient.
  if (atCapacity)
    return {
      accept: false,
      result: RejectResult.Transient,
      source: RejectSource.ServiceProviderPresentation,
      reason: 2,
    };
  const answers: PresentationContextAnswer[] = rq.presentationContexts.map((pc) => {
    const isVerification = pc.abstractSyntax === SopClass.Verification;
    if (!isVerification && !STORAGE_SOP_CLASSES.has(pc.abstractSyntax))
      return {
        id: pc.id,
        result: PresentationContextResult.AbstractSyntaxNotSupported,
        transferSyntax: pc.transferSyntaxes[0] ?? '',
      };
    const usable = pc.transferSyntaxes.filter((t) => (isVerification ? uncompressed.has(t) : acceptedSyntaxes.has(t)));
    // As proposed (a compressed file stays compressed), except that Explicit beats Implicit VR Little Endian:
    // it keeps private VRs and is what WADO-RS serves by default (PS3.18 §8.7.3).
    const ts =
      usable[0] === TransferSyntax.ImplicitVRLittleEndian && usable.includes(TransferSyntax.ExplicitVRLittleEndian)
        ? TransferSyntax.ExplicitVRLittleEndian
        : usable[0];
    return ts
      ? { id: pc.id, result: PresentationContextResult.Acceptance, transferSyntax: ts }
      : {
          id: pc.id,
          result: PresentationContextResult.TransferSyntaxesNotSupported,
          transferSyntax: pc.transferSyntaxes[0] ?? '',
        };
  });
  return { accept: true, presentationContexts: answers };
}

/**
 * The gateway's own Storage SCP (and Verification SCP). Each C-STORE dataset streams to disk as it arrives;
 * the Success response goes out only after the destination admitted it and the file is fsynced and renamed
 * into place.
 */
export class StorageScp {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Connections that have not associated yet, and established associations. */
  private unassociated = 0;
  private established = 0;
  /** What the SCP has done since it started (metrics read these). */
  readonly tallies: StorageScpTallies = {
    associationsAccepted: 0,
    associationsRejected: 0,
    stored: 0,
    storedBytes: 0,
    duplicates: 0,
    refused: 0,
    failed: 0,
  };
  private readonly log: Logger;
  private readonly allowedPeers: net.BlockList | undefined;

  constructor(private readonly options: StorageScpOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'storage-scp' });
    this.allowedPeers = options.allowedPeers?.length ? peerList(options.allowedPeers) : undefined;
  }

  get port(): number {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : this.options.port;
  }

  async listen(): Promise<void> {
    await this.options.store.init();
    const onConnection = (socket: net.Socket): void => this.handle(socket);
    this.server = this.options.tls ? tls.createServer(this.options.tls, onConnection) : net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.options.port, this.options.host, () => resolve());
    });
    this.log.info({ aeTitle: this.options.aeTitle, host: this.options.host, port: this.port }, 'Storage SCP listening');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(socket: net.Socket): void {
    const peerAddress = plainAddress(socket.remoteAddress ?? '');
    if (this.allowedPeers && !this.allowedPeers.check(peerAddress, peerAddress.includes(':') ? 'ipv6' : 'ipv4')) {
      this.log.warn({ peer: peerAddress }, 'connection from an address not in dimse.allowedPeers; closed');
      this.options.onRefused?.({ peerAddress, reason: 'address not in dimse.allowedPeers' });
      this.tallies.associationsRejected++;
      socket.destroy();
      return;
    }
    // Connections waiting for their A-ASSOCIATE-RQ hold a slot too: past twice the cap they are not even read.
    if (this.unassociated >= 2 * this.options.maxAssociations) {
      this.log.warn(
        { peer: peerAddress, waiting: this.unassociated },
        'too many connections without an association; closed',
      );
      this.tallies.associationsRejected++;
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'storage connection error'));
    socket.once('close', () => this.sockets.delete(socket));
    this.unassociated++;
    let counted = true;
    const leaveWaiting = (): void => {
      if (counted) this.unassociated--;
      counted = false;
    };
    socket.once('close', leaveWaiting);
    void Association.accept(socket, {
      implementation: this.options.implementation,
      maxPduLength: this.options.maxPduLength,
      timeouts: {
        artimMs: this.options.artimTimeoutMs,
        requestMs: this.options.requestTimeoutMs ?? this.options.artimTimeoutMs,
        idleMs: this.options.idleTimeoutMs ?? 0,
      },
      // Capacity is decided at the A-ASSOCIATE-RQ, against associations established by then (PS3.8 Table 9-21).
      decide: (rq) => {
        leaveWaiting();
        const decision = decideAssociation(
          rq,
          this.options.aeTitle,
          this.options.allowedCallingAeTitles,
          this.established >= this.options.maxAssociations,
        );
        if (decision.accept) this.established++;
        if (decision.accept) this.tallies.associationsAccepted++;
        else this.tallies.associationsRejected++;
        return decision;
      },
      logger: this.log,
    }).then((association) => {
      if (!association) return;
      void association.closed.then(() => {
        this.established--;
      });
      association.setHandler({ onCommand: (pcId, command) => this.onCommand(association, pcId, command) });
      association.startReading();
    });
  }

  private onCommand(association: Association, pcId: number, command: DimseCommand): DatasetSink | undefined {
    const respond = (commandField: number, status: number, extra: Partial<DimseCommand> = {}): void => {
      void association
        .send(pcId, {
          commandField,
          hasDataset: false,
          messageIdBeingRespondedTo: command.messageId ?? 0,
          affectedSopClassUid: command.affectedSopClassUid ?? '',
          status,
          ...extra,
        })
        .catch((err: Error) => this.log.debug({ err: err.message }, 'could not send a response'));
    };
    switch (command.commandField) {
      case CommandField.CEchoRQ:
        respond(CommandField.CEchoRSP, Status.Success);
        return undefined;
      case CommandField.CStoreRQ:
        return this.storeSink(association, pcId, command, (status, comment) =>
          respond(CommandField.CStoreRSP, status, {
            affectedSopInstanceUid: command.affectedSopInstanceUid ?? '',
            ...(comment ? { errorComment: comment } : {}),
          }),
        );
      default:
        this.log.warn({ commandField: command.commandField }, 'unsupported DIMSE command');
        if ((command.commandField & 0x8000) === 0) respond(command.commandField | 0x8000, Status.UnrecognizedOperation);
        return undefined;
    }
  }

  /** Streams one C-STORE dataset to disk; answers after it is admitted and durable (PS3.4 §B.2.3 statuses). */
  private storeSink(
    association: Association,
    pcId: number,
    command: DimseCommand,
    reply: (status: number, comment?: string) => void,
  ): DatasetSink {
    const context = association.acceptedContexts.get(pcId);
    const sopInstanceUid = command.affectedSopInstanceUid ?? '';
    const sopClassUid = command.affectedSopClassUid ?? '';
    const peerAddress = association.remoteAddress;
    const moveOriginator =
      command.moveOriginatorAeTitle !== undefined && command.moveOriginatorMessageId !== undefined
        ? { aeTitle: command.moveOriginatorAeTitle, messageId: command.moveOriginatorMessageId }
        : undefined;
    const admission: StoreAdmission = !context
      ? { refusal: { status: Status.UnableToProcess, comment: 'no presentation context' } }
      : sopClassUid !== context.abstractSyntax
        ? {
            refusal: {
              status: Status.IdentifierDoesNotMatchSOPClass,
              comment: 'SOP Class UID does not match the presentation context',
            },
          }
        : this.options.destination.admitStore({
            sopClassUid,
            sopInstanceUid,
            callingAeTitle: association.remoteAeTitle,
            peerAddress,
            ...(moveOriginator ? { moveOriginator } : {}),
          });
    const receiver = receiveInstance(
      ('store' in admission ? admission.store : undefined) ?? this.options.store,
      {
        sopClassUid,
        sopInstanceUid,
        transferSyntaxUid: context?.transferSyntax ?? '',
        sourceAeTitle: association.remoteAeTitle,
      },
      'refusal' in admission
        ? { refusal: admission.refusal }
        : {
            verify: async (arrived) =>
              commandMismatch({ sopClassUid, sopInstanceUid }, arrived) ?? (await admission.verify?.(arrived)),
          },
    );
    const maxBytes = this.options.maxDatasetBytes ?? Number.POSITIVE_INFINITY;
    let received = 0;
    return {
      write: (chunk) => {
        received += chunk.length;
        if (received > maxBytes) {
          // No last fragment in sight: stop the peer rather than let one dataset fill the disk (or our time).
          this.log.warn(
            { sop: sopInstanceUid, from: association.remoteAeTitle, peer: peerAddress, maxDatasetBytes: maxBytes },
            'dataset larger than dimse.maxDatasetBytes; aborting the association',
          );
          this.options.onRefused?.({
            peerAddress,
            callingAeTitle: association.remoteAeTitle,
            sopInstanceUid,
            reason: `dataset larger than dimse.maxDatasetBytes (${maxBytes} bytes)`,
          });
          this.tallies.refused++;
          association.abort(AbortReason.NotSpecified, AbortSource.ServiceProvider); // the sink's abort drops the file
          return;
        }
        return receiver.write(chunk);
      },
      end: async () => {
        if (received > maxBytes) return; // aborted above
        const outcome = await receiver.finish();
        if (!('stored' in outcome)) {
          if (outcome.status === Status.Success) {
            // Taken and let go: the destination already holds this instance and keeps its copy (archive.duplicates).
            this.log.info(
              { sop: sopInstanceUid, from: association.remoteAeTitle, reason: outcome.comment },
              'duplicate instance: the archived copy is kept',
            );
            this.tallies.duplicates++;
            reply(Status.Success);
            return;
          }
          if (outcome.status === Status.OutOfResources) {
            this.log.error({ sop: sopInstanceUid, reason: outcome.comment }, 'could not store instance');
            this.tallies.failed++;
          } else {
            this.tallies.refused++;
            // Not ours, or not what its command says: a peer to look at (every refusal but our own disk's).
            this.log.warn(
              {
                sop: sopInstanceUid,
                from: association.remoteAeTitle,
                peer: peerAddress,
                status: statusHex(outcome.status),
                reason: outcome.comment,
              },
              'C-STORE refused',
            );
            this.options.onRefused?.({
              peerAddress,
              callingAeTitle: association.remoteAeTitle,
              sopInstanceUid,
              status: outcome.status,
              reason: outcome.comment,
            });
          }
          reply(outcome.status, outcome.comment);
          return;
        }
        const late =
          'stored' in admission
            ? await admission.stored({
                ...outcome.stored,
                callingAeTitle: association.remoteAeTitle,
                ...(moveOriginator ? { moveOriginator } : {}),
              })
            : undefined;
        if (late) {
          this.log.error(
            { sop: sopInstanceUid, status: statusHex(late.status), reason: late.comment },
            'stored instance could not be taken in',
          );
          this.tallies.failed++;
          reply(late.status, late.comment);
          return;
        }
        reply(Status.Success);
        this.tallies.stored++;
        this.tallies.storedBytes += outcome.stored.bytes;
        this.log[this.options.storedLogLevel ?? 'debug'](
          { sop: sopInstanceUid, bytes: outcome.stored.bytes, from: association.remoteAeTitle },
          'instance stored',
        );
      },
      abort: (reason) => {
        this.log.info(
          { sop: sopInstanceUid, reason: reason.message },
          'association ended mid-dataset; partial instance dropped',
        );
        if (received <= maxBytes) this.tallies.failed++; // an oversized one was counted refused
        void receiver.abort(reason);
      },
    };
  }
}

/** net.BlockList of addresses and CIDR ranges (IPv4 and IPv6), used as an allow-list. */
export function peerList(entries: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = address.includes(':') ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}
