/**
 * Several archives behind one tenant: the same study search (`PatientName=Doe*`, 2 studies, held by every
 * member) through a gateway in front of each archive alone — Orthanc, dcmqrscp, the embedded archive — and
 * through one gateway in front of all three, which merges and de-duplicates; then with a fourth member that is
 * down (after its circuit breaker opened), and with one that accepts TCP and never answers (its deadline).
 * Every peer as shipped (Nagle on). Each gateway is a process of its own, started one at a time.
 */
import { startDcmqrscp, startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { run, SHIPPED_ENV } from '../devkit/processes.js';
import { tempDir } from '../devkit/temp.js';
import { startBlackHole } from '../devkit/black-hole.js';
import { startGateway } from './gateway-process.js';
import { get, parallel, sequential, summarise, type Summary } from './stats.js';
import { barChart, ms, ratio, target, type SuiteResult } from './report.js';

const SEQUENTIAL = 200;
const CLIENTS = 8;
const PER_CLIENT = 100;
const ROUNDS = 4;
const QUERY = '/studies?PatientName=Doe*';
const SILENT_DEADLINE_MS = 1000;
const SILENT_SEARCHES = 10;
/**
 * Associations each gateway may open to a PACS: four gateways in front of Orthanc at once stay within the 8 it
 * serves (more would wait about a second each in Orthanc).
 */
const MAX_ASSOCIATIONS = 2;

interface Figures {
  p50: Summary;
  rps: number;
}

/**
 * Each gateway's searches, measured side by side: all of them running at once, the sequential searches
 * interleaved (one to each gateway in turn, so that every gateway sees the same moments of a busy machine), then
 * each gateway's 8-client throughput in rounds, the gateways taking turns.
 */
async function measureSideBySide(urls: Record<string, string>): Promise<Record<string, Figures>> {
  const names = Object.keys(urls);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) {
    const first = await get(urls[n] as string);
    if (first.status !== 200) throw new Error(`${n}: the search answered ${first.status}`);
  }
  for (let i = 0; i < 20 + SEQUENTIAL; i++) {
    for (const n of names) {
      const started = performance.now();
      await get(urls[n] as string);
      if (i >= 20) samples[n]?.push(performance.now() - started);
    }
  }
  const rps: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await parallel(CLIENTS, 5, () => get(urls[n] as string));
  for (let round = 0; round < ROUNDS; round++)
    for (const n of names)
      rps[n]?.push((await parallel(CLIENTS, PER_CLIENT / ROUNDS, () => get(urls[n] as string))).rps);
  return Object.fromEntries(
    names.map((n) => [n, { p50: summarise(samples[n] ?? []), rps: summarise(rps[n] ?? []).p50 }]),
  );
}

const member = (name: string, pacs: Pick<TestPacs, 'aeTitle' | 'port'>, more = ''): string =>
  `{ name: ${name}, aeTitle: ${pacs.aeTitle}, host: 127.0.0.1, port: ${pacs.port}, probeAtStart: false, maxAssociations: ${MAX_ASSOCIATIONS}${more} }`;

export async function runFederationBench(): Promise<SuiteResult> {
  const work = tempDir('bench-federation');
  const orthanc = await startOrthanc();
  const dcmqrscp = await startDcmqrscp();
  const silent = await startBlackHole();
  try {
    // The embedded archive, loaded once as a modality would (storescu into its Storage SCP).
    const loader = await startGateway(work, 'local');
    await run(
      'storescu',
      ['-aet', 'MODALITY', '-aec', 'DICOMWEB', '127.0.0.1', String(loader.dimsePort), ...fixtureFiles().files],
      { env: SHIPPED_ENV },
    );
    await loader.stop();
    // Two gateways would share one archive index: the federation's embedded member gets a copy of its own.
    await run('cp', ['-a', `${work}/local`, `${work}/local-member`]);
    const local = `{ name: local, archive: { dir: ${work}/local-member } }`;
    const three = [local, member('orthanc', orthanc), member('dcmqrscp', dcmqrscp)];
    const pacsSettings = `probeAtStart: false, maxAssociations: ${MAX_ASSOCIATIONS}`;
    const deadPort = await freePort();
    const gateways = {
      orthanc: await startGateway(work, 'orthanc-alone', { pacs: orthanc, pacsSettings }),
      dcmqrscp: await startGateway(work, 'dcmqrscp-alone', { pacs: dcmqrscp, pacsSettings }),
      embedded: await startGateway(work, 'local', {}),
      // Orthanc as the only member of a list: what the federated path costs by itself.
      orthancListed: await startGateway(work, 'orthanc-listed', { members: `[${member('orthanc', orthanc)}]` }),
      federated: await startGateway(work, 'federated', { members: `[${three.join(', ')}]` }),
      // A member that is down: its breaker opens after 3 failed searches (in the untimed first ones) and stays open.
      withDead: await startGateway(work, 'federated-dead', {
        members: `[${[...three, member('dead', { aeTitle: 'DEAD', port: deadPort })].join(', ')}]`,
        yaml: 'federation: { breaker: { failures: 3, backoffMs: 600000, maxBackoffMs: 600000 } }',
      }),
    };
    let figures: Record<keyof typeof gateways, Figures>;
    try {
      figures = (await measureSideBySide(
        Object.fromEntries(Object.entries(gateways).map(([n, g]) => [n, `${g.base}${QUERY}`])),
      )) as Record<keyof typeof gateways, Figures>;
    } finally {
      for (const g of Object.values(gateways)) await g.stop();
    }
    const alone = { orthanc: figures.orthanc, dcmqrscp: figures.dcmqrscp, embedded: figures.embedded };
    const { federated, withDead } = figures;
    // A member that never answers, its breaker kept closed: every search waits for its deadline, no longer.
    const hung = await startGateway(work, 'federated-silent', {
      members: `[${[...three, member('silent', { aeTitle: 'HUNG', port: silent.port }, `, searchTimeoutMs: ${SILENT_DEADLINE_MS}`)].join(', ')}]`,
      yaml: 'federation: { breaker: { failures: 1000000 } }',
    });
    let silentTimes: number[];
    try {
      silentTimes = await sequential(SILENT_SEARCHES, () => get(`${hung.base}${QUERY}`), 1);
    } finally {
      await hung.stop();
    }
    const slowest = Math.max(alone.orthanc.p50.p50, alone.dcmqrscp.p50.p50, alone.embedded.p50.p50);
    const silentOver = Math.max(...silentTimes) - SILENT_DEADLINE_MS;
    return {
      suite: 'federation',
      title: 'Several archives behind one tenant',
      setup: `\`GET ${QUERY}\` (2 studies, held by every member: each answers them, the merge keeps one of each) through a gateway in front of each archive alone — Orthanc, dcmqrscp (both as shipped), the embedded archive — through one gateway in front of all three, and one in front of the three and a member that is down (its circuit breaker opened in the untimed first searches). The five gateways run at once, each a process of its own: ${SEQUENTIAL} sequential searches each after 20 untimed, interleaved (one to each gateway in turn, so that all see the same moments of the machine), then ${CLIENTS} concurrent clients, ${PER_CLIENT} requests each in ${ROUNDS} rounds, the gateways taking turns (median round). Last, the three and a member that accepts TCP and never answers (searchTimeoutMs ${SILENT_DEADLINE_MS}, breaker kept closed: every search waits for it), alone on the machine.`,
      tables: [
        {
          title: 'Searches',
          columns: ['', 'p50', 'p95', `req/s, ${CLIENTS} clients`],
          rows: [
            ['Orthanc alone', ms(alone.orthanc.p50.p50), ms(alone.orthanc.p50.p95), alone.orthanc.rps.toFixed(0)],
            ['dcmqrscp alone', ms(alone.dcmqrscp.p50.p50), ms(alone.dcmqrscp.p50.p95), alone.dcmqrscp.rps.toFixed(0)],
            [
              'embedded archive alone',
              ms(alone.embedded.p50.p50),
              ms(alone.embedded.p50.p95),
              alone.embedded.rps.toFixed(0),
            ],
            [
              'Orthanc as the only member of a list',
              ms(figures.orthancListed.p50.p50),
              ms(figures.orthancListed.p50.p95),
              figures.orthancListed.rps.toFixed(0),
            ],
            ['all three', ms(federated.p50.p50), ms(federated.p50.p95), federated.rps.toFixed(0)],
            ['all three + a dead member', ms(withDead.p50.p50), ms(withDead.p50.p95), withDead.rps.toFixed(0)],
          ],
          note: `Each gateway opens at most ${MAX_ASSOCIATIONS} associations to a PACS. A federated search keeps Orthanc, dcmqrscp and the gateway's SQLite busy at the same moment; on this machine's 2 cores they take turns, which members on their own hosts would not. The federated path by itself (Orthanc as a list of one) is the row to read for what the gateway adds.`,
        },
        {
          title: `With a silent member (deadline ${SILENT_DEADLINE_MS} ms)`,
          columns: ['searches', 'fastest', 'slowest', 'slowest − deadline'],
          rows: [[SILENT_SEARCHES, ms(Math.min(...silentTimes)), ms(Math.max(...silentTimes)), ms(silentOver)]],
        },
      ],
      targets: [
        target(
          'the federated path by itself: Orthanc as a list of one − Orthanc alone, p50',
          ms(figures.orthancListed.p50.p50 - alone.orthanc.p50.p50),
          '≤ 1 ms',
          figures.orthancListed.p50.p50 - alone.orthanc.p50.p50 <= 1,
        ),
        target(
          'all three p50 − slowest member alone p50',
          ms(federated.p50.p50 - slowest),
          '≤ 1 ms',
          federated.p50.p50 - slowest <= 1,
        ),
        target(
          'with a dead member (breaker open) / without, p50',
          ratio(withDead.p50.p50 / federated.p50.p50),
          '≤ 1.10×',
          withDead.p50.p50 / federated.p50.p50 <= 1.1,
        ),
        target(
          `with a dead member / without, ${CLIENTS}-client throughput`,
          ratio(withDead.rps / federated.rps),
          '≥ 0.90×',
          withDead.rps / federated.rps >= 0.9,
        ),
        target('a search with a silent member, slowest − its deadline', ms(silentOver), '≤ 50 ms', silentOver <= 50),
      ],
      charts: [
        barChart(
          'latency',
          'Study search p50 (ms)',
          'milliseconds',
          [
            ['Orthanc alone', alone.orthanc],
            ['dcmqrscp alone', alone.dcmqrscp],
            ['embedded alone', alone.embedded],
            ['all three', federated],
            ['all three + dead', withDead],
          ].map(([group, f]) => ({ group: group as string, series: 'p50', value: (f as Figures).p50.p50 })),
        ),
      ],
    };
  } finally {
    await silent.close();
    await dcmqrscp.stop();
    await orthanc.stop();
  }
}
