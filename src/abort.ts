/** Stopping work by AbortSignal: waits and iterations that give up at once when their signal aborts. */

/** Both signals in one: aborted as soon as either is (with its reason). */
export const eitherSignal = (a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined =>
  a && b ? AbortSignal.any([a, b]) : (a ?? b);

/** What an aborted signal rejects with: its reason when it is an error, else a plain "aborted". */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('the request was aborted');
}

/** A promise that rejects once `signal` aborts (never, without one); `dispose` stops listening. */
function whenAborted(signal: AbortSignal | undefined): { promise: Promise<never>; dispose(): void } {
  if (!signal) return { promise: new Promise<never>(() => {}), dispose: () => {} };
  let onAbort = (): void => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortReason(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => {});
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/**
 * `work`, or the signal's reason as soon as it aborts. The work is left to finish or fail on its own; what it
 * yields after the abort goes to `dispose` (a stream nobody will read, released).
 */
export async function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  dispose?: (late: T) => void,
): Promise<T> {
  if (!signal) return work;
  const aborted = whenAborted(signal);
  try {
    return await Promise.race([work, aborted.promise]);
  } catch (err) {
    if (signal.aborted)
      void work.then(
        (late) => dispose?.(late),
        () => {},
      );
    throw err;
  } finally {
    aborted.dispose();
  }
}

/**
 * The items of `source` until `signal` aborts; then the source is told to stop (`return()`: a C-FIND gets its
 * C-CANCEL, a retrieval its consumer released) without waiting for it — a source stuck on a silent peer stops
 * when that peer's own timers fire — and the iteration rejects with the signal's reason at once.
 */
export async function* abortable<T>(
  source: AsyncIterable<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T, void, undefined> {
  if (!signal) {
    yield* source;
    return;
  }
  const it = source[Symbol.asyncIterator]();
  const aborted = whenAborted(signal);
  let finished = false;
  try {
    for (;;) {
      const next = it.next();
      next.catch(() => {});
      const r = await Promise.race([next, aborted.promise]);
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    aborted.dispose();
    // Left early (the consumer stopped, or the signal aborted): the source stops too, in the background.
    if (!finished) void Promise.resolve(it.return?.()).catch(() => {});
  }
}
