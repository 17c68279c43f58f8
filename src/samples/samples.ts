import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { allInstances } from './catalog.js';
import { buildInstance } from './patients.js';
import { IMAGING_FIXTURES, imagingFile } from './imaging.js';
import { storePart10, type StoreInstance, type StoreOutcome } from '../services/part10-store.js';

/**
 * The sample studies shipped with the gateway: what `npm start` seeds an empty archive with, what
 * `dicomweb-gateway samples DIR` writes, and the test fixtures. Ten patients in nine character sets (CT, MR, US
 * cine) and a rendering phantom study (MONOCHROME1 CR, colour, multi-frame, a PDF and a structured report).
 * Generated, deterministically: the same bytes on every run, and no binary files in the repository.
 */
export function* sampleFiles(): Generator<{ name: string; bytes: Buffer }> {
  for (const f of allInstances())
    yield {
      name: path.join(f.study.label.replace('/', '_'), `series${f.series.number}`, `${f.number}.dcm`),
      bytes: buildInstance(f),
    };
  for (const f of IMAGING_FIXTURES) yield { name: path.join('imaging', `${f.key}.dcm`), bytes: imagingFile(f) };
}

/** Writes every sample under `dir`; returns how many. */
export function writeSamples(dir: string): number {
  let n = 0;
  for (const { name, bytes } of sampleFiles()) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, bytes);
    n++;
  }
  return n;
}

/** Stores every sample through `store` (an archive's storeInstance), as an import would; returns the outcomes. */
export async function seedSamples(store: StoreInstance): Promise<StoreOutcome[]> {
  const outcomes: StoreOutcome[] = [];
  for (const { bytes } of sampleFiles()) outcomes.push(await storePart10(store, once(bytes), { source: 'SAMPLES' }));
  return outcomes;
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
