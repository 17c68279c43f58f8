import type { GatewayConfig } from '../config/schema.js';
import type { StoreStatus, IncomingDataset } from '../archive/archive.js';
import { EmbeddedArchive } from '../backends/embedded/embedded-archive.js';
import { openPacsStore } from '../backends/dimse/dimse-archive.js';
import { CodecPool } from '../codecs/codec-pool.js';
import { embeddedSettings, type TenantSettings } from '../tenant.js';
import { importFiles, type ImportProgress } from '../services/import.js';
import { silentLogger } from '../logger.js';
import { ProgressReporter, type ProgressOutput } from './progress.js';

export interface CommandIo {
  stdout: ProgressOutput;
  stderr: ProgressOutput;
}

/** Where a tenant's instances go: its embedded archive's ingest, or C-STORE to its PACS. */
async function openTenantStore(
  tenant: TenantSettings,
  config: GatewayConfig,
): Promise<{ store(i: IncomingDataset): Promise<StoreStatus>; close(): Promise<void>; where: string }> {
  if (tenant.backend === 'embedded') {
    const archive = await EmbeddedArchive.open(embeddedSettings(tenant, config));
    return {
      store: (i) => archive.storeInstance(i),
      close: () => archive.close(),
      where: `the embedded archive in ${tenant.archive.dir}`,
    };
  }
  const codecs = new CodecPool({ threads: config.codecs.threads, maxQueue: config.codecs.maxQueue });
  const pacs = tenant.pacs;
  const store = await openPacsStore({ pacs, dimse: tenant.dimse, cache: tenant.cache, codecs }, silentLogger);
  return {
    store: (i) => store.store(i),
    close: async () => {
      await store.close();
      await codecs.close();
    },
    where: `the PACS ${pacs.aeTitle}@${pacs.host}:${pacs.port}`,
  };
}

/**
 * `dicomweb-gateway import DIR|FILE…`: what is found there stored into the tenant's back end, with progress; a
 * summary at the end with every failure and why. Exit code 0 when everything that is DICOM was stored, 1 when
 * something failed, 130 when stopped with Ctrl-C (the files being stored then finish; none is stored in half).
 */
export async function importCommand(
  config: GatewayConfig,
  tenant: TenantSettings,
  paths: readonly string[],
  options: { concurrency: number },
  io: CommandIo,
): Promise<number> {
  const target = await openTenantStore(tenant, config);
  const stop = new AbortController();
  const onSigint = (): void => {
    io.stderr.write('\nstopping: the files being stored finish, no new one is started\n');
    stop.abort();
  };
  process.once('SIGINT', onSigint);
  const reporter = new ProgressReporter(io.stderr);
  const started = Date.now();
  let result: ImportProgress;
  try {
    result = await importFiles(paths, (i) => target.store(i), {
      concurrency: options.concurrency,
      signal: stop.signal,
      onProgress: (p) =>
        reporter.update({
          done: p.doneFiles,
          total: p.files,
          doneBytes: p.doneBytes,
          totalBytes: p.bytes,
          unit: 'files',
          note: p.failed.length ? `${p.failed.length} failed` : '',
        }),
    });
  } finally {
    process.removeListener('SIGINT', onSigint);
    reporter.finish();
    await target.close();
  }
  const seconds = (Date.now() - started) / 1000;
  io.stdout.write(
    `${stop.signal.aborted ? 'stopped: ' : ''}${result.doneFiles} of ${result.files} files (${(result.doneBytes / 1e6).toFixed(1)} MB) in ${seconds.toFixed(1)} s into ${target.where}: ${result.stored} stored, ${result.skipped} skipped (not DICOM Part 10), ${result.failed.length} failed\n`,
  );
  for (const f of result.failed) io.stdout.write(`  failed ${f.file}: ${f.reason}\n`);
  if (stop.signal.aborted) return 130;
  return result.failed.length ? 1 : 0;
}
