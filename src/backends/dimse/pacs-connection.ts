import type { PacsPeer, FindSession, EchoResult, RetrieveRequest, RetrieveHooks, PacsObserver } from './pacs-peer.js';
import type { AssociationPool, DedicatedAssociation, PoolStats } from '../../dimse-bridge/association-pool.js';
import type { MoveResult, DimseClient } from '../../dimse-bridge/dimse-client.js';
import { SopClass } from '../../dimse-bridge/sop-classes.js';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { tracer } from '../../tracing/tracing.js';
import { Status } from '../../dicom/status.js';
import { Dataset } from '../../dicom/dataset.js';
import { Tags } from '../../dicom/tag.js';
import { STORABLE_TRANSFER_SYNTAXES, UNCOMPRESSED_TRANSFER_SYNTAXES } from '../../dicom/transfer-syntax.js';

export interface PooledPacsPeerOptions {
  /** How retrievals run at first (C-MOVE into our Storage SCP, or C-GET). */
  retrieve: 'move' | 'get';
  /** Our Storage SCP's AE title: the C-MOVE destination. */
  moveDestination: string;
  /** After C-CANCEL, how long the PACS has to end the retrieval before the association is aborted. */
  cancelGraceMs?: number;
  /** Told when each C-FIND ends (metrics). */
  observer?: Pick<PacsObserver, 'findEnded'>;
}

/** Storage SOP classes proposed for C-GET when the C-FIND did not name them (PS3.4 Annex B, the common ones). */
const DEFAULT_GET_SOP_CLASSES = [
  '1.2.840.10008.5.1.4.1.1.1',
  '1.2.840.10008.5.1.4.1.1.1.1',
  '1.2.840.10008.5.1.4.1.1.1.2',
  '1.2.840.10008.5.1.4.1.1.1.3',
  '1.2.840.10008.5.1.4.1.1.2',
  '1.2.840.10008.5.1.4.1.1.2.1',
  '1.2.840.10008.5.1.4.1.1.4',
  '1.2.840.10008.5.1.4.1.1.4.1',
  '1.2.840.10008.5.1.4.1.1.6.1',
  '1.2.840.10008.5.1.4.1.1.3.1',
  '1.2.840.10008.5.1.4.1.1.7',
  '1.2.840.10008.5.1.4.1.1.7.1',
  '1.2.840.10008.5.1.4.1.1.7.2',
  '1.2.840.10008.5.1.4.1.1.7.3',
  '1.2.840.10008.5.1.4.1.1.7.4',
  '1.2.840.10008.5.1.4.1.1.12.1',
  '1.2.840.10008.5.1.4.1.1.12.2',
  '1.2.840.10008.5.1.4.1.1.20',
  '1.2.840.10008.5.1.4.1.1.128',
  '1.2.840.10008.5.1.4.1.1.130',
  '1.2.840.10008.5.1.4.1.1.481.1',
  '1.2.840.10008.5.1.4.1.1.481.2',
  '1.2.840.10008.5.1.4.1.1.481.3',
  '1.2.840.10008.5.1.4.1.1.481.5',
  '1.2.840.10008.5.1.4.1.1.88.11',
  '1.2.840.10008.5.1.4.1.1.88.22',
  '1.2.840.10008.5.1.4.1.1.88.33',
  '1.2.840.10008.5.1.4.1.1.88.59',
  '1.2.840.10008.5.1.4.1.1.88.67',
  '1.2.840.10008.5.1.4.1.1.104.1',
  '1.2.840.10008.5.1.4.1.1.11.1',
  '1.2.840.10008.5.1.4.1.1.66.4',
  '1.2.840.10008.5.1.4.1.1.13.1.3',
  '1.2.840.10008.5.1.4.1.1.77.1.4',
  '1.2.840.10008.5.1.4.1.1.77.1.6',
];

const COMPRESSED = STORABLE_TRANSFER_SYNTAXES.filter((t) => !UNCOMPRESSED_TRANSFER_SYNTAXES.includes(t));

/**
 * C-GET storage contexts (PS3.4 §C.4.3.1): for each SOP class one uncompressed and one compressed context, so
 * the PACS sends each instance as it holds it, or uncompressed if it will not send compressed; SCP role for us.
 * 127 contexts at most beside the GET one (PS3.8 §9.3.2.2): 63 SOP classes.
 */
export function getAssociationContexts(sopClassUids: readonly string[]): DedicatedAssociation {
  const classes = [...new Set(sopClassUids.length ? sopClassUids : DEFAULT_GET_SOP_CLASSES)].slice(0, 63);
  return {
    presentationContexts: [
      { abstractSyntax: SopClass.StudyRootGet, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] },
      ...classes.flatMap((abstractSyntax) => [
        { abstractSyntax, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] },
        { abstractSyntax, transferSyntaxes: COMPRESSED },
      ]),
    ],
    roleSelections: classes.map((sopClassUid) => ({ sopClassUid, scuRole: false, scpRole: true })),
  };
}

/** The PACS reached over DIMSE through an association pool. */
export class PooledPacsPeer implements PacsPeer {
  /** How retrievals starting from now run (`pacs.retrieve: auto` sets it from the probe). */
  retrieval: 'move' | 'get';

  constructor(
    private readonly pool: AssociationPool,
    private readonly options: PooledPacsPeerOptions,
  ) {
    this.retrieval = options.retrieve;
  }

  /** The association pool's state (metrics). */
  poolStats(): PoolStats {
    return this.pool.stats();
  }

  get deliversToStorageScp(): boolean {
    return this.retrieval === 'move';
  }

  get listsBeforeRetrieving(): boolean {
    return this.retrieval === 'get';
  }

  async retrieve(request: RetrieveRequest, hooks: RetrieveHooks): Promise<MoveResult> {
    const mode = this.retrieval;
    const identifier = new Dataset()
      .setText(Tags.QueryRetrieveLevel, request.level, 'CS')
      .setText(Tags.StudyInstanceUID, request.studyUid, 'UI');
    if (request.seriesUid) identifier.setText(Tags.SeriesInstanceUID, request.seriesUid, 'UI');
    if (request.sopInstanceUid) identifier.setText(Tags.SOPInstanceUID, request.sopInstanceUid, 'UI');
    const run = async (client: DimseClient): Promise<MoveResult> => {
      let hardStop: NodeJS.Timeout | undefined;
      // C-CANCEL first (PS3.7 §9.3.2.3); a PACS that ignores it loses the association after a grace period.
      const onAbort = (): void => {
        client.cancel();
        hardStop = setTimeout(() => client.association.abort(), this.options.cancelGraceMs ?? 5000);
      };
      hooks.signal?.addEventListener('abort', onAbort);
      try {
        return mode === 'get'
          ? await client.get(SopClass.StudyRootGet, identifier, hooks.receive, hooks.onProgress)
          : await client.move(
              SopClass.StudyRootMove,
              this.options.moveDestination,
              identifier,
              hooks.onProgress,
              hooks.onStarted,
            );
      } finally {
        clearTimeout(hardStop);
        hooks.signal?.removeEventListener('abort', onAbort);
      }
    };
    const profile = mode === 'get' ? getAssociationContexts(request.sopClassUids) : 'plain';
    const lease = await this.pool.acquire(profile);
    let result: MoveResult | undefined;
    try {
      result = await run(lease.client);
      return result;
    } finally {
      // After a failed retrieval the association is released, not reused: dcmqrscp keeps its database locked
      // after a C-MOVE to an unknown destination until that association ends, and every other query waits.
      lease.release(result !== undefined && result.status === Status.Success && (result.failed ?? 0) === 0);
    }
  }

  async find(
    identifier: Dataset,
    options: { fuzzyMatching: boolean; signal?: AbortSignal | undefined },
  ): Promise<FindSession> {
    const started = performance.now();
    const span = tracer().startSpan('C-FIND', {
      kind: SpanKind.CLIENT,
      attributes: { 'dicom.level': identifier.getString(Tags.QueryRetrieveLevel) ?? '' },
    });
    let lease;
    try {
      lease = await context.with(trace.setSpan(context.active(), span), () =>
        this.pool.acquire(options.fuzzyMatching ? 'fuzzy' : 'plain'),
      );
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      span.end();
      throw err;
    }
    span.setAttribute('dicom.called_ae_title', lease.client.association.remoteAeTitle);
    let responses = 0;
    const state = { cancelledByPeer: false };
    const source = lease.client.find(SopClass.StudyRootFind, identifier, {
      signal: options.signal,
      onCancelledByPeer: () => {
        state.cancelledByPeer = true;
      },
    });
    let done = false;
    const finish = (outcome: 'success' | 'cancelled' | 'failure'): void => {
      if (done) return;
      done = true;
      lease.release(lease.client.association.isOpen);
      this.options.observer?.findEnded((performance.now() - started) / 1000, outcome);
      span.setAttributes({ 'dicom.find.outcome': outcome, 'dicom.find.responses': responses });
      if (outcome === 'failure') span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    // Each pending C-FIND response (PS3.7 §9.1.2) is an event of the span.
    const responded = (r: IteratorResult<Dataset>): IteratorResult<Dataset> => {
      if (!r.done) {
        responses++;
        span.addEvent('C-FIND-RSP pending');
      }
      return r;
    };
    let first: IteratorResult<Dataset>;
    try {
      first = responded(await source.next());
    } catch (err) {
      finish('failure');
      throw err;
    }
    if (first.done) finish('success');
    let pendingFirst: IteratorResult<Dataset> | undefined = first;
    const matches: FindSession['matches'] = {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next() {
        if (pendingFirst) {
          const r = pendingFirst;
          pendingFirst = undefined;
          return r;
        }
        if (done) return { done: true, value: undefined };
        try {
          const r = responded(await source.next());
          if (r.done) finish('success');
          return r;
        } catch (err) {
          finish('failure');
          throw err;
        }
      },
      async return() {
        pendingFirst = undefined;
        if (!done) {
          await source.return(undefined); // sends C-CANCEL; the drain finishes in the background
          finish('cancelled');
        }
        return { done: true, value: undefined };
      },
    };
    return {
      fuzzyMatchingApplied: lease.fuzzyMatchingGranted,
      get cancelledByPeer() {
        return state.cancelledByPeer;
      },
      matches,
    };
  }

  async echo(): Promise<EchoResult> {
    return this.pool.with('plain', async (lease) => {
      const start = performance.now();
      const status = await lease.client.echo();
      return { status, roundTripMs: performance.now() - start };
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
