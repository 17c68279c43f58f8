// Runs the TypeScript index writer where it has not been compiled (tests, `tsx`): worker threads do not inherit
// the parent's TypeScript loader, so the worker registers tsx itself before loading the source.
import { register } from 'tsx/esm/api';

register();
await import('./index-writer-worker.ts');
