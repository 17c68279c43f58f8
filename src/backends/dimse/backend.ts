import path from 'node:path';
import { pacsTlsOptions } from '../../config/tls.js';
import { Association } from '../../dimse-bridge/association.js';
import { DimseClient } from '../../dimse-bridge/dimse-client.js';
import { SopClass } from '../../dimse-bridge/sop-classes.js';
import { UNCOMPRESSED_TRANSFER_SYNTAXES } from '../../dicom/transfer-syntax.js';
import { IMPLEMENTATION } from '../../dicom/uid.js';
import { CodecPool } from '../../codecs/codec-pool.js';
import { silentLogger } from '../../logger.js';
import { formatCapabilities, probeCommand } from '../../commands/probe-command.js';
import type { BackendModule, EchoResult } from '../backend.js';
import type { TenantSettings } from '../../tenant-settings.js';
import { DimseArchive, openPacsStore } from './dimse-archive.js';

const address = (pacs: { aeTitle: string; host: string; port: number }): string =>
  `${pacs.aeTitle}@${pacs.host}:${pacs.port}`;

/** A PACS in front of which the gateway stands: searched by C-FIND, retrieved by C-MOVE or C-GET into a cache. */
export const dimseBackend: BackendModule = {
  describe: (t) => `the PACS ${address(t.pacs)}`,
  identity: (t) => ({ pacs: address(t.pacs) }),
  startWarnings: () => [],
  async start(t, { config, codecs, metrics, hooks, member, budgetOf }) {
    // Labelled by its name among several archives, else by its AE title.
    const label = member?.name ?? t.pacs.aeTitle;
    const archive = await DimseArchive.start(
      {
        ...t,
        qido: config.qido,
        codecs,
        budget: budgetOf?.(t.pacs),
        ...(metrics ? { observer: metrics.pacsObserver(t.id, label) } : {}),
      },
      member ? { ...hooks, logger: hooks.logger.child({ member: member.name }) } : hooks,
      member?.hub,
    );
    const { cache } = archive;
    return {
      archive,
      spoolDir: path.join(t.cache.dir, 'stow-json-spool'),
      readings: () => ({
        pacs: [{ label, pool: () => archive.peer.poolStats() }],
        cache: {
          bytes: () => cache.totalBytes,
          instances: () => cache.size,
          budgetBytes: cache.maxBytes,
          lookups: archive.mediator.lookups,
          evictions: cache.evictions,
        },
      }),
      adminReport: () => ({
        retrieval: { method: archive.peer.retrieval, chosenBy: t.pacs.retrieve === 'auto' ? 'probe' : 'configuration' },
        probe: archive.capabilities.latest ?? null,
      }),
      // Probed once, in the background, once the gateway listens: a PACS down does not stop the start.
      afterListen: () =>
        t.pacs.probeAtStart
          ? archive.probe().then(
              () => undefined,
              () => undefined,
            )
          : Promise.resolve(),
    };
  },
  async openImportTarget(t, config) {
    const codecs = new CodecPool({ threads: config.codecs.threads, maxQueue: config.codecs.maxQueue });
    const store = await openPacsStore({ pacs: t.pacs, dimse: t.dimse, cache: t.cache, codecs }, silentLogger);
    return {
      store: (i) => store.store(i),
      close: async () => {
        await store.close();
        await codecs.close();
      },
      where: this.describe(t),
    };
  },
  async probe(t, log) {
    const report = await probeCommand(t, log);
    return { report, text: formatCapabilities(report) };
  },
  echo: (t) => echoEach(t),
};

/** The C-ECHO of `echo`, its failure said as a result. */
async function echoEach(t: Pick<TenantSettings, 'pacs' | 'dimse'>): Promise<EchoResult[]> {
  try {
    return [await echoPacs(t)];
  } catch (err) {
    return [{ target: address(t.pacs), error: err instanceof Error ? err.message : String(err) }];
  }
}

/** One C-ECHO to the tenant's PACS, on an association of its own. */
async function echoPacs(
  t: Pick<TenantSettings, 'pacs' | 'dimse'>,
): Promise<{ target: string; status: number; roundTripMs: number; associationMs: number }> {
  const { pacs, dimse } = t;
  const tls = pacsTlsOptions({ pacs });
  const start = performance.now();
  const association = await Association.request({
    host: pacs.host,
    port: pacs.port,
    calledAeTitle: pacs.aeTitle,
    callingAeTitle: dimse.aeTitle,
    presentationContexts: [
      { abstractSyntax: SopClass.Verification, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] },
    ],
    implementation: IMPLEMENTATION,
    maxPduLength: pacs.maxPduLength,
    timeouts: { connectMs: pacs.connectTimeoutMs, artimMs: pacs.artimTimeoutMs },
    ...(tls ? { tls } : {}),
  });
  const client = new DimseClient(association, { responseTimeoutMs: pacs.responseTimeoutMs });
  const echoStart = performance.now();
  const status = await client.echo();
  const roundTripMs = performance.now() - echoStart;
  await association.release();
  return { target: address(pacs), status, roundTripMs, associationMs: echoStart - start };
}
