/**
 * QIDO benchmark (issue 3 §5, issue 10 item 9): against Orthanc loaded with the fixtures — first as shipped (Nagle
 * on, as hospitals run it), then tuned with TCP_NODELAY=1 as a second figure — the same study search
 *   (a) through the gateway (a separate process, so its peak RSS can be read),
 *   (b) on Orthanc's own DICOMweb plugin,
 *   (c) as a raw C-FIND on an open association (our DIMSE client, same identifier the gateway sends).
 * 200 sequential requests each, then 1–16 concurrent clients: p50/p95, ratios, requests/s by clients, gateway peak RSS.
 */
import { startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { tempDir } from '../devkit/temp.js';
import { startGateway, type GatewayProcess } from './gateway-process.js';
import { Association } from '../src/dimse-bridge/association.js';
import { DimseClient } from '../src/dimse-bridge/dimse-client.js';
import { SopClass } from '../src/dimse-bridge/sop-classes.js';
import { IMPLEMENTATION } from '../src/dicom/uid.js';
import { UNCOMPRESSED_TRANSFER_SYNTAXES } from '../src/dicom/transfer-syntax.js';
import { buildIdentifier } from '../src/backends/dimse/find.js';
import { DEFAULT_RETURN_KEYS } from '../src/dicom/query-attributes.js';
import { Tags } from '../src/dicom/tag.js';
import { get, sequential, parallel, summarise, peakRssMb, type Summary } from './stats.js';
import { barChart, lineChart, ms, mb, ratio, target, type Cell, type SuiteResult } from './report.js';

const SEQUENTIAL = 200;
const CLIENT_COUNTS = [1, 2, 4, 8, 16];
const MAX_ASSOCIATIONS = 8;
const REQUESTS_PER_POINT = 400;
const QUERY = 'PatientName=Doe*';

interface Point {
  rps: number;
  p50: number;
  p95: number;
}

interface QidoFigures {
  raw: Summary;
  gateway: Summary;
  orthanc: Summary;
  /** Requests/s and latencies by number of concurrent clients. */
  byClients: { clients: number; gateway: Point; orthanc: Point; raw?: Point }[];
  rss: number;
}

export async function runQidoBench(): Promise<SuiteResult> {
  const shipped = await measure(false);
  const tuned = await measure(true);
  const at8 = (f: QidoFigures): QidoFigures['byClients'][number] =>
    f.byClients.find((c) => c.clients === 8) as QidoFigures['byClients'][number];
  const latencyRows = (f: QidoFigures, setup: string): Cell[][] => [
    [`raw C-FIND on an open association (${setup})`, ms(f.raw.p50), ms(f.raw.p95)],
    [`gateway QIDO-RS (${setup})`, ms(f.gateway.p50), ms(f.gateway.p95)],
    [`Orthanc's own DICOMweb (${setup})`, ms(f.orthanc.p50), ms(f.orthanc.p95)],
  ];
  const targets = (
    [
      ['as shipped', shipped],
      ['tuned', tuned],
    ] as const
  ).flatMap(([name, f]) => [
    target(
      `gateway p50 − raw C-FIND p50 (${name})`,
      ms(f.gateway.p50 - f.raw.p50),
      '≤ 2 ms',
      f.gateway.p50 - f.raw.p50 <= 2,
    ),
    target(
      `gateway p50 / Orthanc DICOMweb p50 (${name})`,
      ratio(f.gateway.p50 / f.orthanc.p50),
      '≤ 1.3×',
      f.gateway.p50 / f.orthanc.p50 <= 1.3,
    ),
    target(
      `throughput gateway / Orthanc, 8 clients (${name})`,
      ratio(at8(f).gateway.rps / at8(f).orthanc.rps),
      '≥ 0.7×',
      at8(f).gateway.rps / at8(f).orthanc.rps >= 0.7,
    ),
    target(`gateway peak RSS (${name})`, mb(f.rss), '< 150 MB', f.rss < 150),
  ]);
  return {
    suite: 'qido',
    title: 'QIDO-RS in front of a PACS',
    setup: `\`GET /studies?${QUERY}\` (2 matching studies) through the gateway, which asks Orthanc by C-FIND, against Orthanc's own DICOMweb plugin and against the raw C-FIND the gateway sends (our DIMSE client on an open association). Orthanc holds the fixtures; it runs as shipped (Nagle on), then tuned (TCP_NODELAY=1) as a second figure. ${SEQUENTIAL} sequential requests after 20 untimed, then ${CLIENT_COUNTS.join(', ')} concurrent clients (${REQUESTS_PER_POINT} requests at each count, after 5 untimed per client, in which the gateway's pool opens the associations it needs). The gateway is its own process; its peak RSS is read from /proc.`,
    tables: [
      {
        title: `${SEQUENTIAL} sequential requests`,
        columns: ['', 'p50', 'p95'],
        rows: [...latencyRows(shipped, 'as shipped'), ...latencyRows(tuned, 'tuned')],
      },
      {
        title: 'Concurrent clients (Orthanc as shipped)',
        columns: [
          'clients',
          'gateway req/s',
          'gateway p50',
          'gateway p95',
          'Orthanc req/s',
          'Orthanc p50',
          'Orthanc p95',
          'raw C-FIND req/s',
          'raw p95',
        ],
        rows: shipped.byClients.map((c) => [
          c.clients,
          c.gateway.rps.toFixed(0),
          ms(c.gateway.p50),
          ms(c.gateway.p95),
          c.orthanc.rps.toFixed(0),
          ms(c.orthanc.p50),
          ms(c.orthanc.p95),
          c.raw ? c.raw.rps.toFixed(0) : '—',
          c.raw ? ms(c.raw.p95) : '—',
        ]),
        note: `Raw C-FIND: one association per client, up to the gateway's \`pacs.maxAssociations\` (${MAX_ASSOCIATIONS}) — what Orthanc's C-FIND SCP gives at most to the gateway's number of associations.`,
      },
    ],
    targets,
    charts: [
      barChart(
        'latency',
        'QIDO-RS latency, sequential requests (ms)',
        'milliseconds',
        (
          [
            ['as shipped', shipped],
            ['tuned', tuned],
          ] as const
        ).flatMap(([name, f]) => [
          { group: `p50, ${name}`, series: 'raw C-FIND', value: f.raw.p50 },
          { group: `p50, ${name}`, series: 'gateway QIDO-RS', value: f.gateway.p50 },
          { group: `p50, ${name}`, series: "Orthanc's DICOMweb", value: f.orthanc.p50 },
          { group: `p95, ${name}`, series: 'raw C-FIND', value: f.raw.p95 },
          { group: `p95, ${name}`, series: 'gateway QIDO-RS', value: f.gateway.p95 },
          { group: `p95, ${name}`, series: "Orthanc's DICOMweb", value: f.orthanc.p95 },
        ]),
      ),
      lineChart(
        'throughput',
        'QIDO-RS throughput by concurrent clients (Orthanc as shipped)',
        { x: 'concurrent clients', y: 'requests per second', logX: true },
        shipped.byClients.flatMap((c) => [
          { x: c.clients, y: c.gateway.rps, series: 'gateway QIDO-RS' },
          { x: c.clients, y: c.orthanc.rps, series: "Orthanc's own DICOMweb" },
          ...(c.raw ? [{ x: c.clients, y: c.raw.rps, series: 'raw C-FIND, one association per client' }] : []),
        ]),
      ),
    ],
  };
}

/**
 * Raw C-FIND on our own associations: sequential on one, then one association per client up to
 * MAX_ASSOCIATIONS. Every association is released before the gateway starts: Orthanc serves each association on
 * a thread of its own (DicomThreadsCount), so an idle one left open would starve the gateway's.
 */
async function measureRawFind(pacs: TestPacs): Promise<{ sequential: Summary; byClients: Map<number, Point> }> {
  const openClient = async (): Promise<DimseClient> =>
    new DimseClient(
      await Association.request({
        host: '127.0.0.1',
        port: pacs.port,
        calledAeTitle: pacs.aeTitle,
        callingAeTitle: 'DWGBENCH',
        presentationContexts: [
          { abstractSyntax: SopClass.StudyRootFind, transferSyntaxes: [...UNCOMPRESSED_TRANSFER_SYNTAXES] },
        ],
        implementation: IMPLEMENTATION,
        maxPduLength: 262144,
        timeouts: { connectMs: 5000, artimMs: 5000 },
      }),
      { responseTimeoutMs: 30_000 },
    );
  const identifier = buildIdentifier(
    'STUDY',
    {
      matches: [{ path: [Tags.PatientName], vr: 'PN', value: 'Doe*' }],
      returns: DEFAULT_RETURN_KEYS.STUDY.map((t) => [t]),
    },
    {},
  );
  const findOn = async (client: DimseClient): Promise<number> => {
    let n = 0;
    for await (const _ of client.find(SopClass.StudyRootFind, identifier)) n++;
    return n;
  };
  const clients = [await openClient()];
  try {
    const first = clients[0] as DimseClient;
    if ((await findOn(first)) !== 2) throw new Error('raw C-FIND did not find the 2 fixture studies of Doe');
    const seq = summarise(await sequential(SEQUENTIAL, () => findOn(first)));
    const byClients = new Map<number, Point>();
    for (const n of CLIENT_COUNTS.filter((c) => c <= MAX_ASSOCIATIONS)) {
      while (clients.length < n) clients.push(await openClient());
      const perClient = Math.ceil(REQUESTS_PER_POINT / n);
      const latencies: number[] = [];
      const started = performance.now();
      await Promise.all(
        clients.slice(0, n).map(async (c) => {
          for (let i = 0; i < perClient; i++) {
            const t = performance.now();
            await findOn(c);
            latencies.push(performance.now() - t);
          }
        }),
      );
      byClients.set(n, { rps: (n * perClient) / ((performance.now() - started) / 1000), ...summarise(latencies) });
    }
    return { sequential: seq, byClients };
  } finally {
    await Promise.all(clients.map((c) => c.association.release()));
  }
}

async function measure(tuned: boolean): Promise<QidoFigures> {
  const pacs = await startOrthanc({ tuned });
  const dir = tempDir('qidobench');
  let gateway: GatewayProcess | undefined;
  try {
    const raw = await measureRawFind(pacs);
    gateway = await startGateway(dir, 'gateway', { pacs, pacsSettings: `maxAssociations: ${MAX_ASSOCIATIONS}` });
    const httpPort = gateway.httpPort;
    const gatewayUrl = `http://127.0.0.1:${httpPort}/dicomweb/studies?${QUERY}`;
    const orthancUrl = `http://127.0.0.1:${pacs.httpPort}/dicom-web/studies?${QUERY}`;
    const check = [await get(gatewayUrl), await get(orthancUrl)];
    if (check.some((c) => c.status !== 200)) throw new Error(`warm-up failed: ${JSON.stringify(check)}`);
    const gatewaySeq = summarise(await sequential(SEQUENTIAL, () => get(gatewayUrl)));
    const orthancSeq = summarise(await sequential(SEQUENTIAL, () => get(orthancUrl)));
    const byClients: QidoFigures['byClients'] = [];
    for (const n of CLIENT_COUNTS) {
      const perClient = Math.ceil(REQUESTS_PER_POINT / n);
      // Untimed first: the gateway's pool opens its extra associations (a one-time cost, not throughput).
      await parallel(n, 5, () => Promise.all([get(gatewayUrl), get(orthancUrl)]));
      const g = await parallel(n, perClient, () => get(gatewayUrl));
      const o = await parallel(n, perClient, () => get(orthancUrl));
      if (process.env.DWG_BENCH_DEBUG)
        console.log(
          `${n} clients, slowest gateway requests (ms):`,
          [...g.latencies]
            .sort((a, b) => b - a)
            .slice(0, 8)
            .map((x) => x.toFixed(0))
            .join(' '),
        );
      const rawPoint = raw.byClients.get(n);
      byClients.push({
        clients: n,
        gateway: { rps: g.rps, ...summarise(g.latencies) },
        orthanc: { rps: o.rps, ...summarise(o.latencies) },
        ...(rawPoint ? { raw: rawPoint } : {}),
      });
    }
    return {
      raw: raw.sequential,
      gateway: gatewaySeq,
      orthanc: orthancSeq,
      byClients,
      rss: peakRssMb(gateway.process.pid as number),
    };
  } finally {
    await gateway?.stop();
    await pacs.stop();
  }
}
