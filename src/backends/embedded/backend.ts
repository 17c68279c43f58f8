import path from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { isLoopback } from '../../config/schema.js';
import { seedSamples } from '../../samples/samples.js';
import { embeddedSettings } from '../../tenant-settings.js';
import type { BackendModule } from '../backend.js';
import { EmbeddedArchive } from './embedded-archive.js';

/** Marks an archive seeded with the sample studies (an interrupted seeding starts again). */
const SEEDED_MARK = '.samples-seeded';

/** The gateway's own archive: instances under `archive.dir`, indexed in SQLite, fed by its Storage SCP and STOW-RS. */
export const embeddedBackend: BackendModule = {
  describe: (t) => `the embedded archive in ${t.archive.dir}`,
  identity: (t) => ({ archive: t.archive.dir }),
  startWarnings: (t) =>
    t.dimse.listen && !isLoopback(t.dimse.host) && t.dimse.allowedPeers.length === 0 && !t.dimse.tls?.requireClientCert
      ? [
          {
            fields: { host: t.dimse.host, port: t.dimse.port },
            message:
              "the archive's Storage SCP takes instances from any peer that can reach it: set dimse.allowedPeers (or DICOM TLS with client certificates)",
          },
        ]
      : [],
  async start(t, { config, hooks, member }) {
    const settings = embeddedSettings(t, config);
    let archive: EmbeddedArchive;
    if (member) {
      // Beside other archives: what arrives at the tenant's Storage SCP and no retrieval claims is kept here.
      archive = await EmbeddedArchive.open(settings, hooks.logger.child({ member: member.name }));
      member.hub.keepArrivalsIn(archive);
    } else archive = await EmbeddedArchive.start(settings, t.dimse, hooks);
    return {
      archive,
      spoolDir: path.join(t.archive.dir, 'stow-json-spool'),
      readings: () => ({ archive: { instances: () => archive.instanceCount } }),
      holds: (scope) => archive.holds(scope),
    };
  },
  async openImportTarget(t, config) {
    const archive = await EmbeddedArchive.open(embeddedSettings(t, config));
    return { store: (i) => archive.storeInstance(i), close: () => archive.close(), where: this.describe(t) };
  },
  reindex: (t, config) => EmbeddedArchive.reindex(embeddedSettings(t, config)),
  async seedSamples(t, config) {
    if (existsSync(path.join(t.archive.dir, SEEDED_MARK))) return undefined;
    const archive = await EmbeddedArchive.open(embeddedSettings(t, config));
    try {
      const outcomes = await seedSamples((incoming) => archive.storeInstance(incoming));
      const failed = outcomes.filter((o) => o.status.status !== 0);
      if (failed.length)
        throw new Error(
          `seeding the sample studies: ${failed.length} instance(s) refused, the first ${failed[0]?.sopInstanceUid} with status ${failed[0]?.status.status.toString(16)}`,
        );
      writeFileSync(path.join(t.archive.dir, SEEDED_MARK), `${new Date().toISOString()}\n`);
      return outcomes.length;
    } finally {
      await archive.close();
    }
  },
};
