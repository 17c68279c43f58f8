import type { GatewayConfig } from '../config/schema.js';
import type { TenantSettings } from '../tenant-settings.js';
import { backendOf } from '../backends/registry.js';
import { importFiles, type ImportProgress } from '../services/import.js';
import { ProgressReporter, type ProgressOutput } from './progress.js';

export interface CommandIo {
  stdout: ProgressOutput;
  stderr: ProgressOutput;
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
  const target = await backendOf(tenant).openImportTarget(tenant, config);
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
