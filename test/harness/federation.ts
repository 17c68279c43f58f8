import path from 'node:path';
import { configSchema, type ConfigInput, type GatewayConfig } from '../../src/config/schema.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { FederatedArchive } from '../../src/backends/federated/federated-archive.js';
import { startDcmqrscp, startOrthanc, type TestPacs } from '../../devkit/pacs.js';
import { freePort } from '../../devkit/ports.js';
import { tempDir } from '../../devkit/temp.js';
import { fixtureFiles } from '../../devkit/fixtures.js';
import { run, SHIPPED_ENV } from '../../devkit/processes.js';
import { allStudies } from '../../src/samples/catalog.js';

export type Place = 'orthanc' | 'dcmqrscp' | 'local';

/**
 * Where each fixture study lives in the suites' federation: some in both PACS, some in one, some in the
 * embedded archive only — the first patient's first study in Orthanc alone, so that Orthanc answers it with the
 * attributes and matching the suites expect of a PACS that keeps SOP classes and applies sequence keys.
 */
export function placeOf(studyIndex: number): Place[] {
  const places: Place[][] = [['orthanc'], ['orthanc', 'dcmqrscp'], ['dcmqrscp'], ['local']];
  return places[studyIndex % places.length] as Place[];
}

/** The fixture files of each place (a study's files live under a directory named after its label). */
export function filesByPlace(files = fixtureFiles()): Record<Place, string[]> {
  const out: Record<Place, string[]> = { orthanc: [], dcmqrscp: [], local: [] };
  for (const [i, { study }] of allStudies().entries()) {
    const dir = path.join(files.dir, study.label.replace('/', '_')) + path.sep;
    for (const place of placeOf(i)) out[place].push(...files.files.filter((f) => f.startsWith(dir)));
  }
  return out;
}

export interface Federation {
  gw: Gateway & { base: string; config: GatewayConfig; archive: FederatedArchive };
  orthanc: TestPacs;
  dcmqrscp: TestPacs;
  stop(): Promise<void>;
}

/**
 * Orthanc (`orthanc`), dcmqrscp (`dcmqrscp`) and the embedded archive (`local`, listed first) behind one tenant,
 * each loaded with its place's files (the archive's through the gateway's own Storage SCP, as a modality sends),
 * plus `extraMembers` (a dead or silent PACS).
 */
export async function startFederation(
  options: {
    files?: Record<Place, string[]>;
    extraMembers?: Record<string, unknown>[];
    /** Keys of every PACS member (e.g. `retrieve: get`). */
    pacs?: Record<string, unknown>;
    more?: Pick<ConfigInput, 'federation' | 'stow' | 'metrics'>;
  } = {},
): Promise<Federation> {
  const files = options.files ?? filesByPlace();
  const dimsePort = await freePort();
  const destination = { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort };
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of started.reverse()) await s.stop();
  };
  try {
    const orthanc = await startOrthanc({ files: files.orthanc, moveDestination: destination });
    started.push(orthanc);
    const dcmqrscp = await startDcmqrscp({ files: files.dcmqrscp, moveDestination: destination, verbose: true });
    started.push(dcmqrscp);
    const member = (name: string, pacs: TestPacs): Record<string, unknown> => ({
      name,
      aeTitle: pacs.aeTitle,
      host: pacs.host,
      port: pacs.port,
      probeAtStart: false,
      ...options.pacs,
    });
    const config = configSchema.parse({
      ...options.more,
      http: { host: '127.0.0.1', port: 0 },
      dimse: { port: dimsePort },
      pacs: [
        { name: 'local', archive: { dir: tempDir('archive') } },
        member('orthanc', orthanc),
        member('dcmqrscp', dcmqrscp),
        ...(options.extraMembers ?? []),
      ],
      cache: { dir: tempDir('cache') },
      auth: { mode: 'none' },
      log: { level: process.env.DWG_TEST_LOG ?? 'silent' },
    });
    const gateway = await startGateway(config);
    started.push({ stop: () => gateway.close() });
    if (!(gateway.archive instanceof FederatedArchive)) throw new Error('the gateway did not start a federation');
    if (files.local.length > 0) {
      const port = String(gateway.archive.storageScp?.port);
      await run('storescu', ['-aet', 'MODALITY', '-aec', config.dimse.aeTitle, '127.0.0.1', port, ...files.local], {
        env: SHIPPED_ENV,
      });
    }
    return {
      gw: { ...gateway, archive: gateway.archive, base: `${gateway.httpUrl}${config.http.basePath}`, config },
      orthanc,
      dcmqrscp,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
