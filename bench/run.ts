/**
 * `npm run bench -- <name>`: runs one benchmark (default: all), prints its tables and targets, and rewrites
 * `bench/report.md` and the suite's charts (see report.ts).
 */
import { cleanupTempDirs } from '../devkit/temp.js';
import { recordSuite, type SUITE_ORDER, type SuiteResult } from './report.js';

// Every suite the report lists, and only those (report.ts orders them).
const benches: Record<(typeof SUITE_ORDER)[number], () => Promise<SuiteResult>> = {
  qido: async () => (await import('./qido.js')).runQidoBench(),
  wado: async () => (await import('./wado.js')).runWadoBench(),
  studies: async () => (await import('./studies.js')).runStudiesBench(),
  viewer: async () => (await import('./viewer.js')).runViewerBench(),
  render: async () => (await import('./render.js')).runRenderBench(),
  archive: async () => (await import('./archive.js')).runArchiveBench(),
  scale: async () => (await import('./scale.js')).runScaleBench(),
  ingest: async () => (await import('./ingest.js')).runIngestBench(),
  federation: async () => (await import('./federation.js')).runFederationBench(),
};
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(benches);
const known = (n: string): n is keyof typeof benches => n in benches;
const unknown = names.filter((n) => !known(n));
if (unknown.length) {
  console.error(`unknown benchmark "${unknown.join('", "')}"; known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
for (const name of names.filter(known)) await recordSuite(await benches[name]());
cleanupTempDirs(); // the fixtures and peers' directories the benchmarks made
process.exit(0);
