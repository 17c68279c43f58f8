import type { PacsBackend, FindSession, EchoResult } from './backend.js';
import type { AssociationPool } from '../dimse-bridge/association-pool.js';
import { SopClass } from '../dimse-bridge/sop-classes.js';
import type { Dataset } from '../dicom/dataset.js';

/** The PACS reached over DIMSE through an association pool. */
export class DimseBackend implements PacsBackend {
  constructor(private readonly pool: AssociationPool) {}

  async find(identifier: Dataset, options: { fuzzyMatching: boolean }): Promise<FindSession> {
    const lease = await this.pool.acquire(options.fuzzyMatching ? 'fuzzy' : 'plain');
    const source = lease.client.find(SopClass.StudyRootFind, identifier);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      lease.release(lease.client.association.isOpen);
    };
    let first: IteratorResult<Dataset>;
    try {
      first = await source.next();
    } catch (err) {
      finish();
      throw err;
    }
    if (first.done) finish();
    let pendingFirst: IteratorResult<Dataset> | undefined = first;
    const matches: FindSession['matches'] = {
      [Symbol.asyncIterator]() { return this; },
      async next() {
        if (pendingFirst) {
          const r = pendingFirst;
          pendingFirst = undefined;
          return r;
        }
        if (done) return { done: true, value: undefined };
        try {
          const r = await source.next();
          if (r.done) finish();
          return r;
        } catch (err) {
          finish();
          throw err;
        }
      },
      async return() {
        pendingFirst = undefined;
        if (!done) {
          await source.return(undefined); // sends C-CANCEL; the drain finishes in the background
          finish();
        }
        return { done: true, value: undefined };
      },
    };
    return { fuzzyMatchingApplied: lease.fuzzyMatchingGranted, matches };
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
