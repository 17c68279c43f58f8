import type { InstanceStore, IncomingInstance, StoredInstance, InstanceWriter, ArrivedUids } from './instance-store.js';

export type { ArrivedUids } from './instance-store.js';
import { isValidUid } from '../dicom/uid.js';
import { readPart10Header } from '../dicom/part10-reader.js';
import { Tags } from '../dicom/tag.js';

import { Status } from '../dicom/status.js';

const SUCCESS = Status.Success;
const OUT_OF_RESOURCES = Status.OutOfResources;
const CANNOT_UNDERSTAND = Status.UnableToProcess;

/** A C-STORE failure status and why (the Error Comment of the response). */
export interface StoreRefusal {
  status: number;
  comment: string;
}

export type ReceiveOutcome = { status: typeof SUCCESS; stored: StoredInstance } | StoreRefusal;

export interface ReceiveOptions {
  /** Decided before any data: consume the dataset, store nothing, answer this. */
  refusal?: StoreRefusal | undefined;
  /** Decided once the whole dataset is on disk, before it replaces anything: a refusal drops it. */
  verify?: ((arrived: ArrivedUids) => Promise<StoreRefusal | undefined>) | undefined;
}

/** One incoming C-STORE dataset on its way to disk, whoever sends it (a Storage SCP peer or a C-GET). */
export interface InstanceReceiver {
  write(chunk: Buffer): void | Promise<void>;
  /** Resolves once the instance is durable (Success) or refused; the caller answers with `status`. */
  finish(): Promise<ReceiveOutcome>;
  /** Drops the partial file; resolves once it is gone. */
  abort(reason: Error): Promise<void>;
}

class Refused extends Error {
  constructor(readonly refusal: StoreRefusal) {
    super(refusal.comment);
  }
}

/**
 * Streams a C-STORE dataset into the instance store. A refusal decided before the data, a failed verification
 * or a disk error still consumes every byte the peer sends, and the outcome says what to answer.
 */
export function receiveInstance(
  store: InstanceStore,
  instance: IncomingInstance,
  options: ReceiveOptions = {},
): InstanceReceiver {
  let problem = options.refusal;
  if (!problem && !isValidUid(instance.sopInstanceUid))
    problem = { status: CANNOT_UNDERSTAND, comment: 'invalid Affected SOP Instance UID' };
  let writer: Promise<InstanceWriter | undefined> = Promise.resolve(undefined);
  let openError: Error | undefined;
  if (!problem) {
    writer = store.begin(instance).catch((err: Error) => {
      openError = err;
      return undefined;
    });
  }
  const { verify } = options;
  let arrived: ArrivedUids | undefined;
  const check =
    verify &&
    (async (tmpPath: string): Promise<void> => {
      arrived = arrivedUids(tmpPath);
      const refusal = await verify(arrived);
      if (refusal) throw new Refused(refusal);
    });
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
        const stored = await w.commit(check);
        // What verification read goes along, so that indexing the instance need not read its header again.
        return { status: SUCCESS, stored: arrived ? { ...stored, arrived } : stored };
      } catch (err) {
        if (err instanceof Refused) return err.refusal;
        return { status: OUT_OF_RESOURCES, comment: `could not write the instance: ${describe(err)}` };
      }
    },
    abort: async () => {
      const w = await writer;
      await w?.abort();
    },
  };
}

/** The dataset's own UIDs; a dataset that does not parse cannot be understood (0xC000). */
function arrivedUids(file: string): ArrivedUids {
  try {
    const { dataset } = readPart10Header(file, 64);
    return {
      sopClassUid: dataset.getString(Tags.SOPClassUID) ?? '',
      sopInstanceUid: dataset.getString(Tags.SOPInstanceUID) ?? '',
      studyInstanceUid: dataset.getString(Tags.StudyInstanceUID) ?? '',
      seriesInstanceUid: dataset.getString(Tags.SeriesInstanceUID) ?? '',
      seriesNumber: dataset.getNumber(Tags.SeriesNumber),
      instanceNumber: dataset.getNumber(Tags.InstanceNumber),
    };
  } catch (err) {
    throw new Refused({ status: CANNOT_UNDERSTAND, comment: `the dataset does not parse: ${(err as Error).message}` });
  }
}

const describe = (err: unknown): string =>
  (err as NodeJS.ErrnoException | undefined)?.code ?? (err as Error | undefined)?.message ?? 'unknown error';
