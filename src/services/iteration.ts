/** Async iteration with bounded look-ahead and guaranteed release: what streamed answers are built from. */

/**
 * Pulls up to `depth` items ahead of the consumer, so that work an item starts when it is created (e.g. reading
 * a file) overlaps with writing the one before. Memory is bounded by `depth` items. Items pulled but never
 * handed on (the consumer stopped early) go to `discard`.
 */
export async function* readAhead<T>(
  source: AsyncIterable<T>,
  depth: number,
  discard?: (item: T) => void,
): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  try {
    for (;;) {
      while (queue.length < depth) queue.push(it.next());
      const next = await (queue.shift() as Promise<IteratorResult<T>>);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    for (const pending of queue.splice(0)) {
      const r = await pending.catch(() => undefined);
      if (r && !r.done) discard?.(r.value);
    }
    await it.return?.();
  }
}

/** Puts an already-read first item back in front of the rest of an iterator. */
export async function* prepend<T>(first: T, rest: AsyncIterator<T>): AsyncGenerator<T> {
  try {
    yield first;
    for (;;) {
      const next = await rest.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await rest.return?.();
  }
}

/**
 * The same items; `release` runs once when iteration ends, fails or is stopped — also when it is stopped before
 * it started, which an async generator's own `finally` does not see. Releases must be idempotent.
 */
export function releasing<T>(source: AsyncIterable<T>, release: () => void): AsyncGenerator<T, void, undefined> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    release();
  };
  const self: AsyncGenerator<T, void, undefined> = {
    [Symbol.asyncIterator]() {
      return self;
    },
    async next() {
      try {
        const r = await it.next();
        if (r.done) end();
        return r.done ? { done: true, value: undefined } : r;
      } catch (err) {
        end();
        throw err;
      }
    },
    async return() {
      try {
        await it.return?.();
      } finally {
        end();
      }
      return { done: true, value: undefined };
    },
    async throw(err: unknown) {
      end();
      throw err;
    },
  };
  return self;
}

/** An iterator as an iterable (so `for await` over it returns it when left early). */
export function iterable<T>(it: AsyncIterator<T>): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => it };
}
