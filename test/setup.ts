import { afterAll } from 'vitest';
import { cleanupTempDirs } from './harness/temp.js';

// Every test file removes the temporary directories it made (fixtures, caches, reference decodes).
afterAll(() => cleanupTempDirs());
