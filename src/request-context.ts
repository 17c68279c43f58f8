import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The HTTP request a piece of work is done for, carried through its asynchronous continuations
 * (AsyncLocalStorage): the log lines of the DIMSE work a request causes carry its id (the root logger's mixin).
 */
const storage = new AsyncLocalStorage<{ reqId: string }>();

export const runInRequest = <T>(reqId: string, fn: () => T): T => storage.run({ reqId }, fn);

export const currentRequestId = (): string | undefined => storage.getStore()?.reqId;

/**
 * Runs `fn` outside any request: what it starts (a pooled association's socket, which later requests reuse)
 * does not carry the first request's id into their work.
 */
export const outsideRequests = <T>(fn: () => T): T => storage.exit(fn);
