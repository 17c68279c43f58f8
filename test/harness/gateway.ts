import type { ConfigInput, GatewayConfig } from '../../src/config/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { startDcmqrscp, type TestPacs } from '../../devkit/pacs.js';
import { freePort } from '../../devkit/ports.js';
import path from 'node:path';
import { tempDir } from '../../devkit/temp.js';
import { fixtureFiles } from '../../devkit/fixtures.js';
import { run, SHIPPED_ENV } from '../../devkit/processes.js';
import { DimseArchive } from '../../src/backends/dimse/dimse-archive.js';
import { EmbeddedArchive } from '../../src/backends/embedded/embedded-archive.js';
import type { TenantArchive } from '../../src/tenant.js';

/** The DIMSE back end of a tenant started in front of a PACS (its cache, mediator and Storage SCP). */
export function dimseArchiveOf(t: { archive: TenantArchive } | undefined): DimseArchive {
  if (!(t?.archive instanceof DimseArchive)) throw new Error('this tenant is not in front of a PACS');
  return t.archive;
}

/** Starts the real gateway on a free HTTP port (0), pointed at `pacs`, with config overrides. */
export async function startTestGateway(
  pacs: Pick<TestPacs, 'aeTitle' | 'host' | 'port'>,
  overrides: Partial<{ [K in keyof ConfigInput]: Partial<Exclude<ConfigInput[K], undefined>> }> = {},
): Promise<Omit<Gateway, 'archive'> & { archive: DimseArchive; base: string; config: GatewayConfig; scpPort: number }> {
  // Overrides on top of the schema's defaults (not on a parsed config: some defaults derive from other keys).
  const config = configSchema.parse({
    ...overrides,
    http: { host: '127.0.0.1', port: 0, ...overrides.http },
    dimse: { port: 0, ...overrides.dimse },
    // No probe at start unless a test asks for one: an extra association would change what tests count at the PACS.
    pacs: { aeTitle: pacs.aeTitle, host: pacs.host, port: pacs.port, probeAtStart: false, ...overrides.pacs },
    cache: { dir: tempDir('cache'), ...overrides.cache },
    auth: { mode: 'none', ...overrides.auth },
    log: { level: process.env.DWG_TEST_LOG ?? 'silent' },
  });
  const gateway = await startGateway(config);
  const archive = dimseArchiveOf(gateway);
  const scpPort = archive.storageScp?.port ?? 0;
  return { ...gateway, archive, base: `${gateway.httpUrl}${config.http.basePath}`, config, scpPort };
}

/** dcmqrscp that knows the gateway as its C-MOVE destination, and the gateway in front of it. */
export async function gatewayInFrontOfDcmqrscp(
  overrides: Parameters<typeof startTestGateway>[1] = {},
): Promise<{ pacs: TestPacs; gw: Awaited<ReturnType<typeof startTestGateway>> }> {
  const dimsePort = await freePort();
  const pacs = await startDcmqrscp({ moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort } });
  try {
    const gw = await startTestGateway(pacs, { ...overrides, dimse: { port: dimsePort, ...overrides.dimse } });
    return { pacs, gw };
  } catch (err) {
    await pacs.stop();
    throw err;
  }
}

/** Transfer syntaxes the fixtures are sent in, round-robin: the file as written, and three conversions by DCMTK. */
const SENT_AS = [
  { convert: undefined, propose: [] },
  { convert: '+tb', propose: ['-xb'] }, // Explicit VR Big Endian
  { convert: '+td', propose: ['-xd'] }, // Deflated Explicit VR Little Endian
  { convert: '+ti', propose: ['-xi'] }, // Implicit VR Little Endian
] as const;

/**
 * The gateway on its embedded archive (no PACS), loaded the way modalities send: DCMTK storescu into its Storage
 * SCP, the files in turn as written (Explicit VR Little Endian), and converted by dcmconv to Big Endian, Deflated
 * and Implicit VR Little Endian (each proposed as its own transfer syntax, so the archive keeps it as sent).
 */
export async function gatewayOnEmbeddedArchive(
  files: readonly string[] = fixtureFiles().files,
  more: Pick<ConfigInput, 'stow' | 'audit' | 'metrics' | 'auth'> & {
    http?: Pick<NonNullable<ConfigInput['http']>, 'tls' | 'corsOrigins'>;
  } = {},
): Promise<Gateway & { base: string; config: GatewayConfig; scpPort: number }> {
  const config = configSchema.parse({
    auth: { mode: 'none' },
    ...more,
    http: { host: '127.0.0.1', port: 0, ...more.http },
    dimse: { port: 0 },
    archive: { dir: tempDir('archive') },
    cache: { dir: tempDir('cache') },
    log: { level: process.env.DWG_TEST_LOG ?? 'silent' },
  });
  const gateway = await startGateway(config);
  const scpPort = gateway.archive.storageScp?.port ?? 0;
  try {
    const converted = tempDir('sent-as');
    for (const [i, way] of SENT_AS.entries()) {
      const group = files.filter((_, n) => n % SENT_AS.length === i);
      if (group.length === 0) continue;
      const sent = [];
      for (const file of group) {
        if (!way.convert) {
          sent.push(file);
          continue;
        }
        const out = path.join(converted, `${sent.length}-${i}-${path.basename(file)}`);
        await run('dcmconv', [way.convert, file, out]);
        sent.push(out);
      }
      await run(
        'storescu',
        ['-aet', 'MODALITY', ...way.propose, '-aec', config.dimse.aeTitle, '127.0.0.1', String(scpPort), ...sent],
        { env: SHIPPED_ENV },
      );
    }
    // What the suites rely on: the archive holds each file as it was sent.
    const archive = gateway.archive;
    if (!(archive instanceof EmbeddedArchive)) throw new Error('the gateway did not start on its embedded archive');
    const held = (
      archive.index.db.prepare('SELECT DISTINCT transfer_syntax AS ts FROM instances').all() as { ts: string }[]
    ).length;
    if (held < Math.min(files.length, SENT_AS.length))
      throw new Error(`the archive holds ${held} transfer syntaxes, not the ${SENT_AS.length} sent`);
  } catch (err) {
    await gateway.close();
    throw err;
  }
  return { ...gateway, base: `${gateway.httpUrl}${config.http.basePath}`, config, scpPort };
}
