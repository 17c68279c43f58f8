import {
  describeScope,
  type Archive,
  type HeldInstance,
  type InstanceStream,
  type RetrieveScope,
} from '../archive/archive.js';
import { ArchiveError } from '../archive/archive-error.js';

/** A scope opened, its first instance in hand: what the answer's status is decided on (PS3.18 §10.4.3). */
export interface OpenedScope {
  stream: InstanceStream;
  first: HeldInstance;
  /** The instances after the first, as they arrive; `return()` it when only the first is wanted. */
  rest: AsyncIterator<HeldInstance>;
}

/**
 * Opens a scope and waits for its first instance. An archive that listed the scope (open() found it) but then
 * sent none of it is a failure of the archive (502), not an empty answer.
 */
export async function openFirst(archive: Pick<Archive, 'open' | 'name'>, scope: RetrieveScope): Promise<OpenedScope> {
  const stream = await archive.open(scope);
  const rest = stream[Symbol.asyncIterator]();
  const first = await rest.next();
  if (first.done) {
    const why = `it listed ${describeScope(scope)} but sent none of its instances (${stream.missing} missing)`;
    throw new ArchiveError('failed', why, {}, archive.name);
  }
  return { stream, first: first.value, rest };
}
