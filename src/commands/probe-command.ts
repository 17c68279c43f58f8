import type tls from 'node:tls';
import { Association } from '../dimse-bridge/association.js';
import { DimseClient } from '../dimse-bridge/dimse-client.js';
import { SopClass } from '../dimse-bridge/sop-classes.js';
import { statusHex } from '../dimse-bridge/command.js';
import { IMPLEMENTATION } from '../dicom/uid.js';
import { STORABLE_TRANSFER_SYNTAXES, UNCOMPRESSED_TRANSFER_SYNTAXES } from '../dicom/transfer-syntax.js';
import type { GatewayConfig } from '../config/schema.js';
import { pacsTlsOptions } from '../config/tls.js';

/** CT Image Storage: the storage SOP class the transfer syntaxes are asked for (what STOW-RS forwarding needs). */
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

const MODELS = {
  'Study Root': { find: SopClass.StudyRootFind, move: SopClass.StudyRootMove, get: SopClass.StudyRootGet },
  'Patient Root': { find: SopClass.PatientRootFind, move: SopClass.PatientRootMove, get: SopClass.PatientRootGet },
} as const;
type Model = keyof typeof MODELS;

/** What a PACS said it supports, from one association's negotiation and a C-ECHO on it. */
export interface PacsCapabilities {
  target: string;
  /** C-ECHO on the probing association: its status and round trip. */
  echo: { status: string; roundTripMs: number } | { refused: true };
  implementation: { classUid: string; versionName?: string };
  maxPduLength: number;
  /** Query/retrieve information models and the operations whose presentation context the PACS accepted. */
  models: Record<Model, { find: boolean; move: boolean; get: boolean }>;
  /**
   * Study Root C-FIND extended negotiation (PS3.4 §C.5.1.1.4): what the PACS granted of relational queries,
   * combined date-time matching and fuzzy semantic matching of person names; absent: it answered none.
   */
  findOptions: { relational: boolean; dateTime: boolean; fuzzy: boolean } | undefined;
  /** Transfer syntaxes the PACS accepts for CT Image Storage (one presentation context proposed per syntax). */
  storageTransferSyntaxes: string[];
}

export interface ProbeTarget {
  aeTitle: string;
  host: string;
  port: number;
  callingAeTitle: string;
  maxPduLength: number;
  connectTimeoutMs: number;
  artimTimeoutMs: number;
  responseTimeoutMs: number;
  tls?: tls.ConnectionOptions;
}

/** The probe's target as a tenant's configuration says: its PACS, called as its own AE title. */
export function probeTargetOf(t: { pacs: GatewayConfig['pacs']; dimse: Pick<GatewayConfig['dimse'], 'aeTitle'> }): ProbeTarget {
  const { pacs } = t;
  const tlsOptions = pacsTlsOptions({ pacs });
  return {
    aeTitle: pacs.aeTitle, host: pacs.host, port: pacs.port, callingAeTitle: t.dimse.aeTitle, maxPduLength: pacs.maxPduLength,
    connectTimeoutMs: pacs.connectTimeoutMs, artimTimeoutMs: pacs.artimTimeoutMs, responseTimeoutMs: pacs.responseTimeoutMs,
    ...(tlsOptions ? { tls: tlsOptions } : {}),
  };
}

/**
 * Asks a PACS what it supports without touching its data: one association proposing Verification, every Q/R
 * model's FIND/MOVE/GET, Study Root FIND's extended negotiation (relational, date-time, fuzzy) and CT Image
 * Storage in each storable transfer syntax (one context each, PS3.8 §9.3.2.2), then a C-ECHO on it.
 */
export async function probePacs(target: ProbeTarget): Promise<PacsCapabilities> {
  const queries = [SopClass.Verification, ...Object.values(MODELS).flatMap((m) => [m.find, m.move, m.get])];
  const association = await Association.request({
    host: target.host,
    port: target.port,
    calledAeTitle: target.aeTitle,
    callingAeTitle: target.callingAeTitle,
    presentationContexts: [
      ...queries.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] })),
      ...STORABLE_TRANSFER_SYNTAXES.map((ts) => ({ abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [ts] })),
    ],
    extendedNegotiations: [{ sopClassUid: SopClass.StudyRootFind, applicationInfo: Buffer.from([1, 1, 1]) }],
    implementation: IMPLEMENTATION,
    maxPduLength: target.maxPduLength,
    timeouts: { connectMs: target.connectTimeoutMs, artimMs: target.artimTimeoutMs },
    ...(target.tls ? { tls: target.tls } : {}),
  });
  try {
    const accepted = [...association.acceptedContexts.values()];
    const has = (abstractSyntax: string): boolean => accepted.some((c) => c.abstractSyntax === abstractSyntax);
    const models = Object.fromEntries(Object.entries(MODELS).map(([name, m]) => [name, { find: has(m.find), move: has(m.move), get: has(m.get) }])) as PacsCapabilities['models'];
    const granted = association.peerExtendedNegotiations.find((n) => n.sopClassUid === SopClass.StudyRootFind)?.applicationInfo;
    let echo: PacsCapabilities['echo'] = { refused: true };
    if (has(SopClass.Verification)) {
      const client = new DimseClient(association, { responseTimeoutMs: target.responseTimeoutMs });
      const started = performance.now();
      const status = await client.echo();
      echo = { status: statusHex(status), roundTripMs: performance.now() - started };
    }
    return {
      target: `${target.aeTitle}@${target.host}:${target.port}`,
      echo,
      implementation: association.peerImplementation,
      maxPduLength: association.peerMaxPduLength,
      models,
      findOptions: granted ? { relational: granted[0] === 1, dateTime: granted[1] === 1, fuzzy: granted[2] === 1 } : undefined,
      storageTransferSyntaxes: accepted.filter((c) => c.abstractSyntax === CT_IMAGE_STORAGE).map((c) => c.transferSyntax),
    };
  } finally {
    await association.release().catch(() => association.abort());
  }
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

/** The findings as an operator reads them, a line each. */
export function formatCapabilities(c: PacsCapabilities): string {
  const echo = 'refused' in c.echo ? 'Verification not accepted' : `status ${c.echo.status}, round trip ${c.echo.roundTripMs.toFixed(2)} ms`;
  const model = (name: Model): string => {
    const m = c.models[name];
    return `FIND ${yesNo(m.find)}, MOVE ${yesNo(m.move)}, GET ${yesNo(m.get)}`;
  };
  const find = c.findOptions
    ? `relational ${yesNo(c.findOptions.relational)}, date-time ${yesNo(c.findOptions.dateTime)}, fuzzy person names ${yesNo(c.findOptions.fuzzy)}`
    : 'none granted';
  return [
    `PACS ${c.target}`,
    `  C-ECHO:                     ${echo}`,
    `  implementation:             ${c.implementation.classUid}${c.implementation.versionName ? ` (${c.implementation.versionName})` : ''}`,
    `  max PDU length:             ${c.maxPduLength}`,
    `  Study Root Q/R:             ${model('Study Root')}`,
    `  Patient Root Q/R:           ${model('Patient Root')}`,
    `  C-FIND extended options:    ${find}`,
    `  CT storage transfer syntaxes (${c.storageTransferSyntaxes.length}): ${c.storageTransferSyntaxes.join(', ') || 'none'}`,
    '',
  ].join('\n');
}
