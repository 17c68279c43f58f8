import type { InstanceStore, IncomingInstance, StoredInstance, InstanceWriter } from './instance-store.js';
import { isValidUid } from '../dicom/uid.js';

/** C-STORE statuses (PS3.4 §B.2.3). */
const SUCCESS = 0x0000;
const OUT_OF_RESOURCES = 0xa700;
const CANNOT_UNDERSTAND = 0xc000;

export type ReceiveOutcome =
  | { status: typeof SUCCESS; stored: StoredInstance }
  | { status: number; comment: string };

/** One incoming C-STORE dataset on its way to disk, whoever sends it (a Storage SCP peer or a C-GET). */
export interface InstanceReceiver {
  write(chunk: Buffer): void | Promise<void>;
  /** Resolves once the instance is durable (Success) or refused; the caller answers with `status`. */
  finish(): Promise<ReceiveOutcome>;
  /** Drops the partial file; resolves once it is gone. */
  abort(reason: Error): Promise<void>;
}

/**
 * Streams a C-STORE dataset into the instance store. A refusal decided before the data (`refusal`) or a disk
 * error still consumes every byte the peer sends, and the outcome says what to answer.
 */
export function receiveInstance(store: InstanceStore, instance: IncomingInstance, refusal?: { status: number; comment: string }): InstanceReceiver {
  let problem = refusal;
  if (!problem && !isValidUid(instance.sopInstanceUid)) problem = { status: CANNOT_UNDERSTAND, comment: 'invalid Affected SOP Instance UID' };
  let writer: Promise<InstanceWriter | undefined> = Promise.resolve(undefined);
  let openError: Error | undefined;
  if (!problem) {
    writer = store.begin(instance).catch((err: Error) => {
      openError = err;
      return undefined;
    });
  }
  return {
    write: async (chunk) => {
      const w = await writer;
      if (w) await w.write(chunk);
    },
    finish: async () => {
      if (problem) return problem;
      const w = await writer;
      if (!w) return { status: OUT_OF_RESOURCES, comment: `could not write the instance: ${describe(openError)}` };
      try {
        return { status: SUCCESS, stored: await w.commit() };
      } catch (err) {
        return { status: OUT_OF_RESOURCES, comment: `could not write the instance: ${describe(err)}` };
      }
    },
    abort: async () => {
      const w = await writer;
      await w?.abort();
    },
  };
}

const describe = (err: unknown): string => (err as NodeJS.ErrnoException | undefined)?.code ?? (err as Error | undefined)?.message ?? 'unknown error';
