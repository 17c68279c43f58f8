import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InstanceStore } from '../cache/instance-store.js';
import { Status } from '../dicom/status.js';
import type { StorageScp, StoreDestination } from '../dimse-bridge/storage-scp.js';
import { listenStorageScp } from '../backends/storage-scp-from-config.js';
import {
  ProbeReceiver,
  probePacs,
  probeTargetOf,
  type PacsCapabilities,
  type QueryModel,
} from '../backends/dimse/pacs-probe.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';

/**
 * `dicomweb-gateway probe`: the tenant's PACS probed (backends/dimse/pacs-probe.ts). Its C-MOVE goes to a Storage
 * SCP of our own, lent for the probe on the tenant's `dimse` address (the one the PACS knows), which takes only
 * the one instance asked for and deletes it. While the gateway runs, that port is its own: the probe says so,
 * and the gateway's own probe at start is on the metrics listener's /admin/pacs.
 */
export async function probeCommand(
  tenant: { pacs: GatewayConfig['pacs']; dimse: GatewayConfig['dimse'] },
  log: Logger,
): Promise<PacsCapabilities> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dicomweb-probe-'));
  const store = new InstanceStore(dir);
  let scp: StorageScp | undefined;
  try {
    await store.init();
    const receiver = new ProbeReceiver(tenant.dimse.aeTitle);
    const destination: StoreDestination = {
      admitStore: (request) =>
        receiver.admit(request.sopInstanceUid, (stored) => rm(stored.path, { force: true })) ?? {
          refusal: { status: Status.NotAuthorized, comment: 'not the instance the probe asked for' },
        },
    };
    let unavailable: string | undefined;
    scp = await listenStorageScp(tenant.dimse, store, destination, {
      onStoreRefused: () => {},
      listenProblem: (err) => err,
      logger: log,
    }).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      unavailable =
        code === 'EADDRINUSE'
          ? `dimse.port ${tenant.dimse.port} is in use (is the gateway running? its own probe is on the metrics listener's /admin/pacs)`
          : `our Storage SCP could not listen on ${tenant.dimse.host}:${tenant.dimse.port}: ${(err as Error).message}`;
      return undefined;
    });
    return await probePacs(probeTargetOf(tenant), scp ? receiver : { unavailable: unavailable ?? 'no Storage SCP' });
  } finally {
    await scp?.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

/** The findings as an operator reads them, a line each. */
export function formatCapabilities(c: PacsCapabilities): string {
  const echo =
    'refused' in c.echo
      ? 'Verification not accepted'
      : `status ${c.echo.status}, round trip ${c.echo.roundTripMs.toFixed(2)} ms`;
  const model = (name: QueryModel): string => {
    const m = c.models[name];
    return `FIND ${yesNo(m.find)}, MOVE ${yesNo(m.move)}, GET ${yesNo(m.get)}`;
  };
  const find = c.findOptions
    ? `relational ${yesNo(c.findOptions.relational)}, date-time ${yesNo(c.findOptions.dateTime)}, fuzzy person names ${yesNo(c.findOptions.fuzzy)}`
    : 'none granted';
  const levels = (name: QueryModel): string =>
    Object.entries(c.levels[name])
      .map(([level, outcome]) => `${level} ${outcome}`)
      .join(', ');
  const echoed =
    c.move.echoesMoveOriginator === undefined
      ? ''
      : c.move.echoesMoveOriginator
        ? ' — echoes Move Originator Message ID'
        : ' — does not echo Move Originator Message ID (instances matched by UID)';
  return [
    `PACS ${c.target}`,
    `  C-ECHO:                     ${echo}`,
    `  implementation:             ${c.implementation.classUid}${c.implementation.versionName ? ` (${c.implementation.versionName})` : ''}`,
    `  max PDU length:             ${c.maxPduLength}`,
    `  Study Root Q/R:             ${model('Study Root')}`,
    `  Patient Root Q/R:           ${model('Patient Root')}`,
    `  Study Root C-FIND levels:   ${levels('Study Root')}`,
    `  Patient Root C-FIND levels: ${levels('Patient Root')}`,
    `  C-FIND extended options:    ${find}`,
    `  C-GET of one instance:      ${c.get.outcome}: ${c.get.detail}`,
    `  C-MOVE of one instance:     ${c.move.outcome}: ${c.move.detail}${echoed}`,
    `  CT storage transfer syntaxes (${c.storageTransferSyntaxes.length}): ${c.storageTransferSyntaxes.join(', ') || 'none'}`,
    '',
  ].join('\n');
}
