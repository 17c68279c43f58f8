// Runs the TypeScript codec worker where it has not been compiled (tests, `tsx`): worker threads do not
// inherit the parent's TypeScript loader, so the worker registers tsx itself before loading the source.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./codec-worker.ts');
export default worker.default;
