import type { Association, MessageHandler, DatasetSink } from './association.js';
import { CommandField, Priority, type DimseCommand } from './command.js';
import { Status, isPending, isFailureStatus } from '../dicom/status.js';
import { untilAborted } from '../abort.js';
import {
  DimseStatusError,
  DimseTimeoutError,
  NoPresentationContextError,
  ProtocolError,
  AssociationAbortedError,
} from './errors.js';
import { SopClass } from './sop-classes.js';
import type { Dataset } from '../dicom/dataset.js';
import { readDataset, writeDataset } from '../dicom/dataset-codec.js';
import { encodingOf, UNCOMPRESSED_TRANSFER_SYNTAXES } from '../dicom/transfer-syntax.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

export interface DimseClientOptions {
  /** Longest wait for the next response of an operation (PS3.7 leaves it to the implementation). */
  responseTimeoutMs: number;
  /** Largest identifier accepted in a C-FIND response. */
  maxIdentifierBytes?: number;
  logger?: Logger;
}

interface Response {
  command: DimseCommand;
  dataset?: Buffer;
}

/** Responses with identifiers queued beyond this pause the socket until the consumer catches up. */
const QUEUE_HIGH_WATER = 32;

/** The responses of one outstanding operation, consumed in order, with the response timeout. */
class ResponseQueue {
  private items: (Response | Error)[] = [];
  private waiter: { resolve: (r: Response) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  private spaceWaiters: (() => void)[] = [];
  private failed: Error | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onTimeout: () => void,
  ) {}

  /** Returns a promise when the queue is over its high-water mark: the association stops reading until it settles. */
  push(item: Response | Error): void | Promise<void> {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      clearTimeout(w.timer);
      if (item instanceof Error) w.reject(item);
      else w.resolve(item);
      return;
    }
    this.items.push(item);
    if (this.items.length >= QUEUE_HIGH_WATER) return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** Restarts the response timer of a waiting consumer (progress that is not a response, e.g. a C-GET sub-operation). */
  touch(): void {
    const w = this.waiter;
    if (!w) return;
    clearTimeout(w.timer);
    w.timer = setTimeout(() => {
      this.waiter = undefined;
      this.onTimeout();
      w.reject(new DimseTimeoutError('response', this.timeoutMs));
    }, this.timeoutMs);
  }

  fail(error: Error): void {
    this.failed ??= error;
    this.push(error);
    for (const w of this.spaceWaiters.splice(0)) w();
  }

  next(): Promise<Response> {
    const item = this.items.shift();
    if (this.items.length < QUEUE_HIGH_WATER / 2) for (const w of this.spaceWaiters.splice(0)) w();
    if (item) return item instanceof Error ? Promise.reject(item) : Promise.resolve(item);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.onTimeout();
        reject(new DimseTimeoutError('response', this.timeoutMs));
      }, this.timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }
}

interface Operation {
  messageId: number;
  pcId?: number;
  queue: ResponseQueue;
  /** C-STORE sub-operations of a C-GET arrive on the same association (PS3.4 C.4.3). */
  onStoreRequest?: (pcId: number, command: DimseCommand) => DatasetSink;
}

export interface FindOptions {
  priority?: number;
  /** The final response was Cancel (FE00) though we sent no C-CANCEL: the PACS cut its answer short. */
  onCancelledByPeer?: () => void;
  /**
   * Aborted: the C-FIND is cancelled at once (C-CANCEL, responses drained in the background) even while the
   * peer sends nothing, and the iteration rejects with the signal's reason.
   */
  signal?: AbortSignal | undefined;
}

export interface MoveProgress {
  remaining?: number;
  completed?: number;
  failed?: number;
  warning?: number;
}

export interface MoveResult extends MoveProgress {
  status: number;
}

/**
 * DIMSE service user over one association: one outstanding operation at a time (we never negotiate
 * asynchronous operations), responses matched by Message ID Being Responded To.
 */
/**
 * Message IDs are unique across the gateway's associations (not only within one), so that Move Originator
 * Message IDs in C-STORE sub-operations identify one C-MOVE (PS3.7 §9.3.1.1).
 */
let nextMessageId = 1;
function allocateMessageId(): number {
  const id = nextMessageId;
  nextMessageId = (nextMessageId % 0xffff) + 1;
  return id;
}

export class DimseClient implements MessageHandler {
  private operation: Operation | undefined;
  private settling: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    readonly association: Association,
    private readonly options: DimseClientOptions,
  ) {
    this.log = options.logger ?? silentLogger;
    association.setHandler(this);
  }

  /** Resolves once any cancelled operation has finished draining and the association can take another. */
  whenIdle(): Promise<void> {
    return this.settling;
  }

  get isUsable(): boolean {
    return this.association.isOpen && this.operation === undefined;
  }

  // ------------------------------------------------------------------------------------------------------
  // MessageHandler

  onCommand(pcId: number, command: DimseCommand): DatasetSink | undefined {
    const op = this.operation;
    if (command.commandField === CommandField.CStoreRQ) {
      if (op?.onStoreRequest) return op.onStoreRequest(pcId, command);
      this.log.warn(
        { sop: command.affectedSopInstanceUid },
        'unexpected C-STORE-RQ on a query association; refusing it',
      );
      void this.association
        .send(pcId, {
          commandField: CommandField.CStoreRSP,
          hasDataset: false,
          messageIdBeingRespondedTo: command.messageId ?? 0,
          affectedSopClassUid: command.affectedSopClassUid ?? '',
          affectedSopInstanceUid: command.affectedSopInstanceUid ?? '',
          status: Status.OutOfResources,
        })
        .catch(() => {});
      return undefined;
    }
    if ((command.commandField & 0x8000) === 0) {
      this.association.abort();
      return undefined;
    }
    if (!op || command.messageIdBeingRespondedTo !== op.messageId) {
      this.log.warn({ messageId: command.messageIdBeingRespondedTo }, 'response to no outstanding request; ignored');
      return undefined;
    }
    if (!command.hasDataset) {
      void op.queue.push({ command });
      return undefined;
    }
    return identifierSink(this.options.maxIdentifierBytes ?? 4 * 1024 * 1024, command, op.queue);
  }

  onClosed(error: Error | undefined): void {
    this.operation?.queue.fail(error ?? new AssociationAbortedError('association released during an operation'));
  }

  // ------------------------------------------------------------------------------------------------------
  // Operations

  private begin(): Operation {
    if (this.operation) throw new ProtocolError('an operation is already outstanding on this association');
    if (!this.association.isOpen) throw new AssociationAbortedError('association is not open');
    const messageId = allocateMessageId();
    const op: Operation = {
      messageId,
      queue: new ResponseQueue(this.options.responseTimeoutMs, () => this.association.abort()),
    };
    this.operation = op;
    return op;
  }

  private end(op: Operation): void {
    if (this.operation === op) this.operation = undefined;
  }

  private context(abstractSyntax: string): { id: number; transferSyntax: string } {
    const pc = this.association.findContext(abstractSyntax, UNCOMPRESSED_TRANSFER_SYNTAXES);
    if (!pc) throw new NoPresentationContextError(abstractSyntax);
    return pc;
  }

  /** C-ECHO (PS3.7 §9.1.5). Resolves with the status. */
  async echo(): Promise<number> {
    const pc = this.context(SopClass.Verification);
    const op = this.begin();
    try {
      await this.association.send(pc.id, {
        commandField: CommandField.CEchoRQ,
        hasDataset: false,
        messageId: op.messageId,
        affectedSopClassUid: SopClass.Verification,
      });
      const rsp = await op.queue.next();
      return rsp.command.status ?? Status.Success;
    } finally {
      this.end(op);
    }
  }

  /**
   * C-FIND (PS3.7 §9.1.2, PS3.4 C.4.1): yields each matching identifier as its pending response arrives.
   * Leaving the loop early sends C-CANCEL (PS3.7 §9.3.2.3) and drains the responses a peer may keep sending
   * (dcmqrscp does) in the background; the association becomes reusable once the final response is in.
   */
  async *find(
    sopClassUid: string,
    identifier: Dataset,
    options: FindOptions = {},
  ): AsyncGenerator<Dataset, void, undefined> {
    const pc = this.context(sopClassUid);
    const encoding = encodingOf(pc.transferSyntax);
    const op = this.begin();
    let complete = false;
    try {
      await this.association.send(
        pc.id,
        {
          commandField: CommandField.CFindRQ,
          hasDataset: true,
          messageId: op.messageId,
          affectedSopClassUid: sopClassUid,
          priority: options.priority ?? Priority.Medium,
        },
        writeDataset(identifier, encoding),
      );
      for (;;) {
        const rsp = await untilAborted(op.queue.next(), options.signal);
        const status = rsp.command.status ?? Status.Success;
        if (isPending(status)) {
          if (rsp.dataset) yield readDataset(rsp.dataset, encoding);
          continue;
        }
        complete = true;
        if (isFailureStatus(status)) throw new DimseStatusError('C-FIND', status, rsp.command.errorComment);
        if (status === Status.Cancel) options.onCancelledByPeer?.();
        return;
      }
    } finally {
      if (complete || !this.association.isOpen) this.end(op);
      else this.cancelAndDrain(pc.id, op);
    }
  }

  private cancelAndDrain(pcId: number, op: Operation): void {
    const drain = async (): Promise<void> => {
      try {
        await this.association.send(pcId, {
          commandField: CommandField.CCancelRQ,
          hasDataset: false,
          messageIdBeingRespondedTo: op.messageId,
        });
        for (;;) {
          const rsp = await op.queue.next();
          if (!isPending(rsp.command.status ?? 0)) return;
        }
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, 'association dropped while draining a cancelled operation');
        this.association.abort();
      } finally {
        this.end(op);
      }
    };
    this.settling = drain();
  }

  /**
   * C-STORE (PS3.7 §9.1.1) of a dataset already encoded in the presentation context's transfer syntax,
   * sent as a stream so that no whole instance needs to be in memory.
   */
  async store(
    sopClassUid: string,
    sopInstanceUid: string,
    transferSyntaxUid: string,
    dataset: Buffer | AsyncIterable<Buffer>,
    extra: Partial<DimseCommand> = {},
  ): Promise<number> {
    const pc = this.association.findContext(sopClassUid, [transferSyntaxUid]);
    if (!pc || pc.transferSyntax !== transferSyntaxUid)
      throw new NoPresentationContextError(`${sopClassUid} in ${transferSyntaxUid}`);
    const op = this.begin();
    try {
      await this.association.send(
        pc.id,
        {
          ...extra,
          commandField: CommandField.CStoreRQ,
          hasDataset: true,
          messageId: op.messageId,
          affectedSopClassUid: sopClassUid,
          affectedSopInstanceUid: sopInstanceUid,
          priority: Priority.Medium,
        },
        dataset,
      );
      const rsp = await op.queue.next();
      return rsp.command.status ?? Status.Success;
    } finally {
      this.end(op);
    }
  }

  /**
   * C-MOVE (PS3.7 §9.1.4): asks the peer to send the matches to `destination`. `onProgress` sees each
   * pending response's sub-operation counts. Failure statuses throw; Warning (B000) resolves with the counts.
   */
  async move(
    sopClassUid: string,
    destination: string,
    identifier: Dataset,
    onProgress?: (p: MoveProgress) => void,
    onStarted?: (messageId: number) => void,
  ): Promise<MoveResult> {
    return this.retrieve(
      'C-MOVE',
      CommandField.CMoveRQ,
      sopClassUid,
      identifier,
      { moveDestination: destination },
      onProgress,
      undefined,
      onStarted,
    );
  }

  /** Sends C-CANCEL for the outstanding operation (PS3.7 §9.3.2.3); its final response still ends it. */
  cancel(): void {
    const op = this.operation;
    if (!op || !this.association.isOpen) return;
    const pc = [...this.association.acceptedContexts.values()][0];
    void this.association
      .send(op.pcId ?? pc?.id ?? 1, {
        commandField: CommandField.CCancelRQ,
        hasDataset: false,
        messageIdBeingRespondedTo: op.messageId,
      })
      .catch(() => {});
  }

  /** Counts as progress of the outstanding operation: restarts its response timer. */
  private touch(): void {
    this.operation?.queue.touch();
  }

  /**
   * C-GET (PS3.7 §9.1.3, PS3.4 §C.4.3): the peer sends the matches as C-STORE sub-operations on this same
   * association (it must have been negotiated with SCP role selection for their storage SOP classes). Each
   * dataset streams into what `onStore` returns; its C-STORE-RSP goes out once that has finished.
   */
  async get(
    sopClassUid: string,
    identifier: Dataset,
    onStore: StoreRequestHandler,
    onProgress?: (p: MoveProgress) => void,
  ): Promise<MoveResult> {
    return this.retrieve('C-GET', CommandField.CGetRQ, sopClassUid, identifier, {}, onProgress, (pcId, command) => {
      this.touch();
      const pc = this.association.acceptedContexts.get(pcId);
      const incoming = onStore({
        sopClassUid: command.affectedSopClassUid ?? '',
        sopInstanceUid: command.affectedSopInstanceUid ?? '',
        transferSyntaxUid: pc?.transferSyntax ?? '',
        callingAeTitle: this.association.remoteAeTitle,
      });
      return {
        write: (chunk) => {
          this.touch();
          return incoming.write(chunk);
        },
        end: async () => {
          const outcome = await incoming.finish();
          this.touch();
          await this.association
            .send(pcId, {
              commandField: CommandField.CStoreRSP,
              hasDataset: false,
              messageIdBeingRespondedTo: command.messageId ?? 0,
              affectedSopClassUid: command.affectedSopClassUid ?? '',
              affectedSopInstanceUid: command.affectedSopInstanceUid ?? '',
              status: outcome.status,
              ...(outcome.comment ? { errorComment: outcome.comment } : {}),
            })
            .catch(() => {});
        },
        abort: (reason) => {
          void incoming.abort(reason);
        },
      };
    });
  }

  private async retrieve(
    name: 'C-MOVE' | 'C-GET',
    commandField: number,
    sopClassUid: string,
    identifier: Dataset,
    extra: Partial<DimseCommand>,
    onProgress?: (p: MoveProgress) => void,
    onStoreRequest?: Operation['onStoreRequest'],
    onStarted?: (messageId: number) => void,
  ): Promise<MoveResult> {
    const pc = this.context(sopClassUid);
    const op = this.begin();
    op.pcId = pc.id;
    if (onStoreRequest) op.onStoreRequest = onStoreRequest;
    onStarted?.(op.messageId);
    let complete = false;
    try {
      await this.association.send(
        pc.id,
        {
          ...extra,
          commandField,
          hasDataset: true,
          messageId: op.messageId,
          affectedSopClassUid: sopClassUid,
          priority: Priority.Medium,
        },
        writeDataset(identifier, encodingOf(pc.transferSyntax)),
      );
      for (;;) {
        const { command } = await op.queue.next();
        const status = command.status ?? Status.Success;
        const counts = subOperationCounts(command);
        if (isPending(status)) {
          onProgress?.(counts);
          continue;
        }
        complete = true;
        if (isFailureStatus(status)) throw new DimseStatusError(name, status, command.errorComment);
        return { status, ...counts };
      }
    } finally {
      if (complete || !this.association.isOpen) this.end(op);
      else this.cancelAndDrain(pc.id, op);
    }
  }
}

/** What a C-GET caller provides for each incoming C-STORE sub-operation. */
export interface IncomingStore {
  write(chunk: Buffer): void | Promise<void>;
  /** Resolves with the C-STORE status to answer, once the dataset is dealt with (e.g. durable on disk). */
  finish(): Promise<{ status: number; comment?: string }>;
  abort(reason: Error): void | Promise<void>;
}

export type StoreRequestHandler = (info: {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  callingAeTitle: string;
}) => IncomingStore;

function subOperationCounts(command: DimseCommand): MoveProgress {
  const counts: MoveProgress = {};
  if (command.remaining !== undefined) counts.remaining = command.remaining;
  if (command.completed !== undefined) counts.completed = command.completed;
  if (command.failed !== undefined) counts.failed = command.failed;
  if (command.warning !== undefined) counts.warning = command.warning;
  return counts;
}

/** Collects one response identifier (small, bounded) and queues it with its command. */
function identifierSink(limit: number, command: DimseCommand, queue: ResponseQueue): DatasetSink {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    write: (chunk) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    },
    end: () =>
      queue.push(
        size > limit
          ? new ProtocolError(`response identifier over ${limit} bytes`)
          : { command, dataset: Buffer.concat(chunks) },
      ),
    abort: (reason) => queue.fail(reason),
  };
}
