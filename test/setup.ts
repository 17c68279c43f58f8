import { afterAll } from 'vitest';
import { cleanupTempDirs } from '../devkit/temp.js';

// Every test file removes the temporary directories it made (fixtures, caches, reference decodes).
afterAll(() => cleanupTempDirs());
