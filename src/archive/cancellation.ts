import { ArchiveError } from './archive-error.js';

/** How a caller bounds an archive call: aborted, the call stops, lets go of what it holds, and rejects. */
export interface CallOptions {
  /** Aborted by the caller (a client gone) or by a deadline (`deadline()`): its `reason` is what the call rejects with. */
  signal?: AbortSignal | undefined;
}

/** A signal that aborts after `ms` with a timeout said of `archive` (an ArchiveError, so the edge answers 504). */
export function deadline(ms: number, archive: string, what: string): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new ArchiveError(
          'timeout',
          `no complete answer to the ${what} within ${ms} ms`,
          { phase: 'deadline' },
          archive,
        ),
      ),
    ms,
  );
  timer.unref();
  controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  return controller.signal;
}
