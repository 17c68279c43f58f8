/** `npm run bench -- <name>`: runs one benchmark (default: all). */
import { cleanupTempDirs } from '../devkit/temp.js';

const benches: Record<string, () => Promise<void>> = {
  qido: async () => (await import('./qido.js')).runQidoBench(),
  wado: async () => (await import('./wado.js')).runWadoBench(),
  render: async () => (await import('./render.js')).runRenderBench(),
  archive: async () => (await import('./archive.js')).runArchiveBench(),
  ingest: async () => (await import('./ingest.js')).runIngestBench(),
};
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(benches);
for (const name of names) {
  const bench = benches[name];
  if (!bench) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  await bench();
}
cleanupTempDirs(); // the fixtures and peers' directories the benchmarks made
process.exit(0);
