import type tls from 'node:tls';
import { Association, type RequestOptions } from '../../dimse-bridge/association.js';
import { DimseClient } from '../../dimse-bridge/dimse-client.js';
import { SopClass } from '../../dimse-bridge/sop-classes.js';
import { Status, statusHex } from '../../dicom/status.js';
import { DimseStatusError } from '../../dimse-bridge/errors.js';
import type { StoreAdmission, StoredEvent } from '../../dimse-bridge/storage-scp.js';
import { IMPLEMENTATION } from '../../dicom/uid.js';
import { Dataset } from '../../dicom/dataset.js';
import { Tags, type Tag } from '../../dicom/tag.js';
import { STORABLE_TRANSFER_SYNTAXES, UNCOMPRESSED_TRANSFER_SYNTAXES } from '../../dicom/transfer-syntax.js';
import type { GatewayConfig } from '../../config/schema.js';
import { pacsTlsOptions } from '../../config/tls.js';
import { getAssociationContexts } from './pacs-connection.js';

/** CT Image Storage: the storage SOP class the transfer syntaxes are asked for (what STOW-RS forwarding needs). */
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

const MODELS = {
  'Study Root': { find: SopClass.StudyRootFind, move: SopClass.StudyRootMove, get: SopClass.StudyRootGet },
  'Patient Root': { find: SopClass.PatientRootFind, move: SopClass.PatientRootMove, get: SopClass.PatientRootGet },
} as const;
export type QueryModel = keyof typeof MODELS;

/** What one C-FIND at a level gave: matches, none, a failure status, or not asked (the level above had none). */
export type LevelOutcome = 'matches' | 'no matches' | 'not asked' | `failed: ${string}`;

/** What one retrieval trial (C-GET, or C-MOVE to our Storage SCP) of the sample instance gave. */
export interface RetrievalTrial {
  outcome: 'delivered' | 'failed' | 'not tried';
  detail: string;
}

/** What a PACS supports, from one association's negotiation, a C-ECHO, one C-FIND per level and one instance retrieved each way. */
export interface PacsCapabilities {
  target: string;
  /** C-ECHO on the probing association: its status and round trip. */
  echo: { status: string; roundTripMs: number } | { refused: true };
  implementation: { classUid: string; versionName?: string };
  maxPduLength: number;
  /** Query/retrieve information models and the operations whose presentation context the PACS accepted. */
  models: Record<QueryModel, { find: boolean; move: boolean; get: boolean }>;
  /** Each level asked by C-FIND: Patient Root PATIENT; Study Root STUDY, then SERIES and IMAGE under the first match. */
  levels: {
    'Patient Root': { PATIENT: LevelOutcome };
    'Study Root': { STUDY: LevelOutcome; SERIES: LevelOutcome; IMAGE: LevelOutcome };
  };
  /**
   * Study Root C-FIND extended negotiation (PS3.4 §C.5.1.1.4): what the PACS granted of relational queries,
   * combined date-time matching and fuzzy semantic matching of person names; absent: it answered none.
   */
  findOptions: { relational: boolean; dateTime: boolean; fuzzy: boolean } | undefined;
  /** Transfer syntaxes the PACS accepts for CT Image Storage (one presentation context proposed per syntax). */
  storageTransferSyntaxes: string[];
  /**
   * The instance retrieved to try C-GET and C-MOVE (the first IMAGE-level match; absent when the PACS answered
   * none): only its SOP Class UID, when the PACS returned it — its UIDs identify a patient's study, and the
   * findings are logged and shown to operators.
   */
  sample?: { sopClassUid?: string };
  get: RetrievalTrial;
  /** C-MOVE of the sample to our Storage SCP, and whether its C-STORE named our C-MOVE (PS3.7 §9.3.1.1). */
  move: RetrievalTrial & { echoesMoveOriginator?: boolean };
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

/** The instance the probe retrieves: the first IMAGE-level match. */
export interface ProbeSample {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  /** dcmqrscp does not return it. */
  sopClassUid?: string;
}

/** A C-STORE sub-operation's Move Originator (PS3.7 §9.3.1.1), or null when it carried none. */
export type ArrivedOriginator = { aeTitle: string; messageId: number } | null;

/**
 * A Storage SCP lent to the probe (the gateway's own, or one the command starts): the instances a probe's C-MOVE
 * asks for while it runs, each admitted in the sample's study and series (the SCP checks the SOP UIDs), with the
 * Move Originator its C-STORE carried. `aeTitle` is the C-MOVE destination, as the PACS knows it.
 */
export class ProbeReceiver {
  private readonly expected = new Map<string, { sample: ProbeSample; arrivals: ArrivedOriginator[] }>();

  constructor(readonly aeTitle: string) {}

  expect(sample: ProbeSample): { arrivals: ArrivedOriginator[]; end(): void } {
    const arrivals: ArrivedOriginator[] = [];
    this.expected.set(sample.sopInstanceUid, { sample, arrivals });
    return { arrivals, end: () => this.expected.delete(sample.sopInstanceUid) };
  }

  /** The admission of a C-STORE the probe asked for (`stored` is told once it is durable); undefined for any other. */
  admit(sopInstanceUid: string, stored: (event: StoredEvent) => void | Promise<void>): StoreAdmission | undefined {
    const expectation = this.expected.get(sopInstanceUid);
    if (!expectation) return undefined;
    const { sample, arrivals } = expectation;
    return {
      verify: (arrived) =>
        Promise.resolve(
          arrived.studyInstanceUid === sample.studyInstanceUid && arrived.seriesInstanceUid === sample.seriesInstanceUid
            ? undefined
            : { status: Status.NotAuthorized, comment: 'not the instance the capability probe asked for' },
        ),
      stored: async (event) => {
        arrivals.push(event.moveOriginator ?? null);
        await stored(event);
        return undefined;
      },
    };
  }
}

/** The probe's target as a tenant's configuration says: its PACS, called as its own AE title. */
export function probeTargetOf(t: {
  pacs: GatewayConfig['pacs'];
  dimse: Pick<GatewayConfig['dimse'], 'aeTitle'>;
}): ProbeTarget {
  const { pacs } = t;
  const tlsOptions = pacsTlsOptions({ pacs });
  return {
    aeTitle: pacs.aeTitle,
    host: pacs.host,
    port: pacs.port,
    callingAeTitle: t.dimse.aeTitle,
    maxPduLength: pacs.maxPduLength,
    connectTimeoutMs: pacs.connectTimeoutMs,
    artimTimeoutMs: pacs.artimTimeoutMs,
    responseTimeoutMs: pacs.responseTimeoutMs,
    ...(tlsOptions ? { tls: tlsOptions } : {}),
  };
}

function associate(
  target: ProbeTarget,
  presentationContexts: RequestOptions['presentationContexts'],
  more: Pick<RequestOptions, 'roleSelections' | 'extendedNegotiations'> = {},
): Promise<Association> {
  return Association.request({
    host: target.host,
    port: target.port,
    calledAeTitle: target.aeTitle,
    callingAeTitle: target.callingAeTitle,
    presentationContexts,
    implementation: IMPLEMENTATION,
    maxPduLength: target.maxPduLength,
    timeouts: { connectMs: target.connectTimeoutMs, artimMs: target.artimTimeoutMs },
    ...(target.tls ? { tls: target.tls } : {}),
    ...more,
  });
}

/** Runs `work` on a new association, released (or aborted) after. */
async function onAssociation<T>(
  target: ProbeTarget,
  contexts: RequestOptions['presentationContexts'],
  work: (client: DimseClient, association: Association) => Promise<T>,
  more: Pick<RequestOptions, 'roleSelections' | 'extendedNegotiations'> = {},
): Promise<T> {
  const association = await associate(target, contexts, more);
  try {
    return await work(new DimseClient(association, { responseTimeoutMs: target.responseTimeoutMs }), association);
  } finally {
    await association.release().catch(() => association.abort());
  }
}

const failure = (err: unknown): string => (err as Error).message;

/**
 * The first match of one C-FIND (the rest cancelled, PS3.7 §9.3.2.3), and what the level gave. Only unique
 * keys are asked for; the match is used only to ask the level below (and a PATIENT match not at all).
 */
async function firstMatch(
  client: DimseClient,
  model: string,
  level: string,
  keys: Record<string, string>,
  returns: Tag[],
): Promise<{ outcome: LevelOutcome; match?: Dataset }> {
  const identifier = new Dataset().setText(Tags.QueryRetrieveLevel, level, 'CS');
  for (const [name, value] of Object.entries(keys)) identifier.setText(Tags[name as keyof typeof Tags], value, 'UI');
  for (const t of returns) identifier.setEmpty(t);
  try {
    // Leaving the loop cancels the rest; the finally below waits for that to settle.
    for await (const match of client.find(model, identifier)) return { outcome: 'matches', match };
    return { outcome: 'no matches' };
  } catch (err) {
    return { outcome: `failed: ${failure(err)}` };
  } finally {
    await client.whenIdle();
  }
}

/**
 * Asks a PACS what it supports. One association proposes Verification, every Q/R model's FIND/MOVE/GET, Study
 * Root FIND's extended negotiation (relational, date-time, fuzzy) and CT Image Storage in each storable transfer
 * syntax (one context each, PS3.8 §9.3.2.2); on it a C-ECHO, then one C-FIND per level for unique keys only, each
 * cancelled after its first match. The first instance found is then retrieved once by C-GET (its data read and
 * dropped) and once by C-MOVE to `receiver` (when there is one), which says whether the PACS echoes the Move Originator.
 * Read-only: nothing is stored on the PACS.
 */
export async function probePacs(
  target: ProbeTarget,
  receiver: ProbeReceiver | { unavailable: string } = { unavailable: 'no Storage SCP to receive it' },
): Promise<PacsCapabilities> {
  const queries = [SopClass.Verification, ...Object.values(MODELS).flatMap((m) => [m.find, m.move, m.get])];
  const negotiated = await onAssociation(
    target,
    [
      ...queries.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] })),
      ...STORABLE_TRANSFER_SYNTAXES.map((ts) => ({ abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [ts] })),
    ],
    async (client, association) => {
      const accepted = [...association.acceptedContexts.values()];
      const has = (abstractSyntax: string): boolean => accepted.some((c) => c.abstractSyntax === abstractSyntax);
      const models = Object.fromEntries(
        Object.entries(MODELS).map(([name, m]) => [name, { find: has(m.find), move: has(m.move), get: has(m.get) }]),
      ) as PacsCapabilities['models'];
      const granted = association.peerExtendedNegotiations.find(
        (n) => n.sopClassUid === SopClass.StudyRootFind,
      )?.applicationInfo;
      let echo: PacsCapabilities['echo'] = { refused: true };
      if (has(SopClass.Verification)) {
        const started = performance.now();
        const status = await client.echo();
        echo = { status: statusHex(status), roundTripMs: performance.now() - started };
      }
      const { levels, sample } = await askLevels(client, models);
      return {
        found: sample,
        capabilities: {
          target: `${target.aeTitle}@${target.host}:${target.port}`,
          echo,
          implementation: association.peerImplementation,
          maxPduLength: association.peerMaxPduLength,
          models,
          levels,
          findOptions: granted
            ? { relational: granted[0] === 1, dateTime: granted[1] === 1, fuzzy: granted[2] === 1 }
            : undefined,
          storageTransferSyntaxes: accepted
            .filter((c) => c.abstractSyntax === CT_IMAGE_STORAGE)
            .map((c) => c.transferSyntax),
          ...(sample ? { sample: sample.sopClassUid ? { sopClassUid: sample.sopClassUid } : {} } : {}),
        } satisfies Omit<PacsCapabilities, 'get' | 'move'>,
      };
    },
    { extendedNegotiations: [{ sopClassUid: SopClass.StudyRootFind, applicationInfo: Buffer.from([1, 1, 1]) }] },
  );
  const { found: sample, capabilities } = negotiated;
  const { models } = capabilities;
  const untried = (why: string): RetrievalTrial => ({ outcome: 'not tried', detail: why });
  const noSample = 'the PACS answered no instance to retrieve';
  const get = !models['Study Root'].get
    ? untried('Study Root C-GET not accepted')
    : sample
      ? await tryGet(target, sample)
      : untried(noSample);
  const move = !models['Study Root'].move
    ? untried('Study Root C-MOVE not accepted')
    : !sample
      ? untried(noSample)
      : 'unavailable' in receiver
        ? untried(receiver.unavailable)
        : await tryMove(target, sample, receiver);
  return { ...capabilities, get, move };
}

async function askLevels(
  client: DimseClient,
  models: PacsCapabilities['models'],
): Promise<{ levels: PacsCapabilities['levels']; sample?: ProbeSample }> {
  const notAsked = 'not asked';
  const patient = models['Patient Root'].find
    ? (await firstMatch(client, SopClass.PatientRootFind, 'PATIENT', {}, [Tags.PatientID])).outcome
    : notAsked;
  const levels: PacsCapabilities['levels'] = {
    'Patient Root': { PATIENT: patient },
    'Study Root': { STUDY: notAsked, SERIES: notAsked, IMAGE: notAsked },
  };
  if (!models['Study Root'].find) return { levels };
  const root = levels['Study Root'];
  const study = await firstMatch(client, SopClass.StudyRootFind, 'STUDY', {}, [Tags.StudyInstanceUID]);
  root.STUDY = study.outcome;
  const studyUid = study.match?.getString(Tags.StudyInstanceUID);
  if (!studyUid) return { levels };
  const series = await firstMatch(client, SopClass.StudyRootFind, 'SERIES', { StudyInstanceUID: studyUid }, [
    Tags.SeriesInstanceUID,
  ]);
  root.SERIES = series.outcome;
  const seriesUid = series.match?.getString(Tags.SeriesInstanceUID);
  if (!seriesUid) return { levels };
  const image = await firstMatch(
    client,
    SopClass.StudyRootFind,
    'IMAGE',
    { StudyInstanceUID: studyUid, SeriesInstanceUID: seriesUid },
    [Tags.SOPInstanceUID, Tags.SOPClassUID],
  );
  root.IMAGE = image.outcome;
  const sopInstanceUid = image.match?.getString(Tags.SOPInstanceUID);
  const sopClassUid = image.match?.getString(Tags.SOPClassUID);
  // dcmqrscp does not return SOP Class UID: C-GET then proposes the common storage classes.
  return sopInstanceUid
    ? {
        levels,
        sample: {
          studyInstanceUid: studyUid,
          seriesInstanceUid: seriesUid,
          sopInstanceUid,
          ...(sopClassUid ? { sopClassUid } : {}),
        },
      }
    : { levels };
}

function instanceIdentifier(sample: ProbeSample): Dataset {
  return new Dataset()
    .setText(Tags.QueryRetrieveLevel, 'IMAGE', 'CS')
    .setText(Tags.StudyInstanceUID, sample.studyInstanceUid, 'UI')
    .setText(Tags.SeriesInstanceUID, sample.seriesInstanceUid, 'UI')
    .setText(Tags.SOPInstanceUID, sample.sopInstanceUid, 'UI');
}

const counted = (r: { completed?: number; failed?: number; warning?: number }): string =>
  `${r.completed ?? 0} completed, ${r.failed ?? 0} failed, ${r.warning ?? 0} warning`;

/** C-GET of the sample (PS3.4 §C.4.3): delivered when its C-STORE came back on the association; the data is dropped. */
async function tryGet(target: ProbeTarget, sample: ProbeSample): Promise<RetrievalTrial> {
  const { presentationContexts, roleSelections } = getAssociationContexts(
    sample.sopClassUid ? [sample.sopClassUid] : [],
  );
  try {
    return await onAssociation(
      target,
      presentationContexts,
      async (client) => {
        let bytes = 0;
        let received = false;
        const result = await client.get(SopClass.StudyRootGet, instanceIdentifier(sample), (info) => ({
          write: (chunk) => {
            bytes += chunk.length;
          },
          finish: () => {
            received ||= info.sopInstanceUid === sample.sopInstanceUid;
            return Promise.resolve({ status: Status.Success });
          },
          abort: () => {},
        }));
        return received
          ? { outcome: 'delivered', detail: `${bytes} bytes on the C-GET association (${counted(result)})` }
          : {
              outcome: 'failed',
              detail: `no C-STORE sub-operation arrived (status ${statusHex(result.status)}, ${counted(result)})`,
            };
      },
      { roleSelections },
    );
  } catch (err) {
    return { outcome: 'failed', detail: failure(err) };
  }
}

/** C-MOVE of the sample to `receiver` (PS3.4 §C.4.2), and whether its C-STORE carried our C-MOVE's Message ID. */
async function tryMove(
  target: ProbeTarget,
  sample: ProbeSample,
  receiver: ProbeReceiver,
): Promise<PacsCapabilities['move']> {
  const expected = receiver.expect(sample);
  try {
    return await onAssociation(
      target,
      [{ abstractSyntax: SopClass.StudyRootMove, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] }],
      async (client) => {
        let messageId = 0;
        const result = await client.move(
          SopClass.StudyRootMove,
          receiver.aeTitle,
          instanceIdentifier(sample),
          undefined,
          (id) => {
            messageId = id;
          },
        );
        // Our Storage SCP answers a C-STORE once the instance is on disk, so it has arrived before the final C-MOVE response.
        const [arrived] = expected.arrivals;
        if (arrived === undefined)
          return {
            outcome: 'failed',
            detail: `nothing reached ${receiver.aeTitle} (status ${statusHex(result.status)}, ${counted(result)})`,
          };
        const echoes = arrived !== null && arrived.aeTitle === target.callingAeTitle && arrived.messageId === messageId;
        const said =
          arrived === null
            ? 'no Move Originator'
            : `Move Originator ${arrived.aeTitle}/${arrived.messageId} for our ${target.callingAeTitle}/${messageId}`;
        return { outcome: 'delivered', detail: `to ${receiver.aeTitle}, ${said}`, echoesMoveOriginator: echoes };
      },
    );
  } catch (err) {
    const reason =
      err instanceof DimseStatusError && err.status === Status.MoveDestinationUnknown
        ? `the PACS does not know ${receiver.aeTitle} as a move destination (0xA801)`
        : failure(err);
    return { outcome: 'failed', detail: reason };
  } finally {
    expected.end();
  }
}

/**
 * What `pacs.retrieve: auto` uses: C-MOVE when the probe's C-MOVE delivered (it streams into the cache with no
 * storage contexts to negotiate), else C-GET when its C-GET did (a PACS that does not know us as a destination);
 * with nothing delivered (an empty PACS, or no probe), by what the PACS accepted, C-MOVE first.
 */
export function chooseRetrieval(c: PacsCapabilities | undefined): 'move' | 'get' {
  if (!c) return 'move';
  if (c.move.outcome === 'delivered') return 'move';
  if (c.get.outcome === 'delivered') return 'get';
  return c.models['Study Root'].move || !c.models['Study Root'].get ? 'move' : 'get';
}
