import type { GatewayConfig } from '../config/schema.js';
import { mint } from '../auth/mint.js';
import { scopeOf, type TenantSettings } from '../tenant-settings.js';
import { ProgressReporter } from './progress.js';
import type { CommandIo } from './import-command.js';

interface StudyToFetch {
  uid: string;
  /** Instances the gateway's search says the study has (0: not said). */
  instances: number;
}

interface Fetched {
  instances: number;
  bytes: number;
}

/**
 * `dicomweb-gateway prefetch`: asks the running gateway (its HTTP API, as a viewer would) for whole studies, so
 * that its cache holds them before anyone opens them — retrieved from its PACS by C-MOVE or C-GET, shared with
 * whatever requests come meanwhile. Runs beside the gateway and never touches its cache itself. With
 * `auth.mode: required` it calls with a capability it mints from the configured signing key. Progress counts the
 * parts as they stream; a study that ends short (the PACS went down, sub-operations failed) is a failure, named
 * with its reason. Exit code 0 when every study arrived whole, 1 otherwise, 130 on Ctrl-C.
 */
export async function prefetchCommand(
  config: GatewayConfig,
  tenant: TenantSettings,
  what: { studies: string[]; query?: string },
  io: CommandIo,
): Promise<number> {
  const host = ['0.0.0.0', '::'].includes(config.http.host) ? '127.0.0.1' : config.http.host;
  const origin =
    config.http.publicUrl?.replace(/\/+$/, '') ??
    `${config.http.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
  const base = `${origin}${tenant.basePath}`;
  const headers: Record<string, string> = {};
  if (tenant.auth.mode === 'required') {
    if (!tenant.auth.signingKeys.length) {
      io.stderr.write(
        'dicomweb-gateway: prefetch calls the gateway with a capability it signs: configure auth.signingKeys (or use auth.mode none)\n',
      );
      return 2;
    }
    headers.authorization = `Bearer ${mint(tenant.auth, 'capability', scopeOf(tenant).base, 3600).value}`;
  }
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);
  const failures: { study: string; reason: string }[] = [];
  const reporter = new ProgressReporter(io.stderr);
  let done = 0;
  let bytes = 0;
  try {
    let studies: StudyToFetch[];
    try {
      studies = await listStudies(base, headers, what, stop.signal);
    } catch (err) {
      io.stderr.write(`dicomweb-gateway: prefetch: cannot list the studies at ${base}: ${reason(err)}\n`);
      return 1;
    }
    const total = studies.reduce((n, s) => n + s.instances, 0);
    const show = (): void =>
      reporter.update({
        done,
        total,
        doneBytes: bytes,
        totalBytes: 0,
        unit: 'instances',
        note: failures.length ? `${failures.length} failed` : '',
      });
    show();
    for (const study of studies) {
      if (stop.signal.aborted) break;
      try {
        const got = await fetchStudy(base, headers, study.uid, stop.signal, (n, b) => {
          done += n;
          bytes += b;
          show();
        });
        if (study.instances && got.instances < study.instances)
          failures.push({
            study: study.uid,
            reason: `${got.instances} of its ${study.instances} instances arrived (the gateway could not retrieve the rest from the PACS)`,
          });
        reporter.finish();
        io.stdout.write(`study ${study.uid}: ${got.instances} instance(s), ${(got.bytes / 1e6).toFixed(1)} MB\n`);
      } catch (err) {
        if (stop.signal.aborted) break;
        failures.push({ study: study.uid, reason: reason(err) });
      }
    }
    reporter.finish();
    io.stdout.write(
      `${stop.signal.aborted ? 'stopped: ' : ''}prefetched ${studies.length - failures.length} of ${studies.length} studies (${done} instances, ${(bytes / 1e6).toFixed(1)} MB) into the cache of ${base}${failures.length ? `; ${failures.length} failed` : ''}\n`,
    );
    for (const f of failures) io.stdout.write(`  failed ${f.study}: ${f.reason}\n`);
    if (stop.signal.aborted) return 130;
    return failures.length ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

const reason = (err: unknown): string => {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ? `${e.message} (${e.cause.code})` : e.message;
};

/** The gateway answered, with an error (as opposed to not answering at all). */
class RefusedByGateway extends Error {}

async function failure(res: Response): Promise<Error> {
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
  return new RefusedByGateway(
    `${res.status} ${body.error ?? ''}: ${body.message ?? res.statusText}`.replace(' :', ':'),
  );
}

/** The studies named, or those the query matches, with their instance counts (QIDO-RS). */
async function listStudies(
  base: string,
  headers: Record<string, string>,
  what: { studies: string[]; query?: string },
  signal: AbortSignal,
): Promise<StudyToFetch[]> {
  const search = async (query: string): Promise<StudyToFetch[]> => {
    const res = await fetch(`${base}/studies?${query}&includefield=00201208`, {
      headers: { ...headers, accept: 'application/dicom+json' },
      signal,
    });
    if (!res.ok) throw await failure(res);
    const matches = res.status === 204 ? [] : ((await res.json()) as Record<string, { Value?: unknown[] }>[]);
    return matches
      .map((m) => ({ uid: String(m['0020000D']?.Value?.[0] ?? ''), instances: Number(m['00201208']?.Value?.[0] ?? 0) }))
      .filter((s) => s.uid);
  };
  // Named studies are counted when the search answers; when it cannot (the PACS is down), each is still asked
  // for: the cache may hold it, and the retrieval says what became of it.
  const named = what.studies.length
    ? await search(`StudyInstanceUID=${what.studies.map(encodeURIComponent).join(',')}`).catch((err: unknown) => {
        if (err instanceof RefusedByGateway) return [];
        throw err;
      })
    : [];
  // A named study the search does not know is still asked for (its count unknown): the retrieval says what it is.
  const listed = [
    ...named,
    ...what.studies.filter((uid) => !named.some((s) => s.uid === uid)).map((uid) => ({ uid, instances: 0 })),
  ];
  return what.query
    ? [...listed, ...(await search(what.query)).filter((s) => !listed.some((l) => l.uid === s.uid))]
    : listed;
}

/** Retrieves a whole study as the gateway holds it (no transcoding), counting parts as they stream. */
async function fetchStudy(
  base: string,
  headers: Record<string, string>,
  uid: string,
  signal: AbortSignal,
  onData: (instances: number, bytes: number) => void,
): Promise<Fetched> {
  const res = await fetch(`${base}/studies/${encodeURIComponent(uid)}`, {
    headers: { ...headers, accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    signal,
  });
  if (!res.ok || !res.body) throw await failure(res);
  const boundary = /boundary="?([^";]+)"?/i.exec(res.headers.get('content-type') ?? '')?.[1];
  if (!boundary) throw new Error('the answer is not multipart');
  const counter = new PartCounter(boundary);
  const got: Fetched = { instances: 0, bytes: 0 };
  for await (const chunk of res.body) {
    const parts = counter.push(Buffer.from(chunk));
    got.instances += parts;
    got.bytes += chunk.length;
    onData(parts, chunk.length);
  }
  const closed = counter.closed;
  if (!closed) throw new Error(`the retrieval broke off after ${got.instances} instance(s)`);
  return got;
}

/**
 * Counts the parts of a multipart body as it streams, without keeping it: each delimiter is counted once, when
 * its last byte and the two after it (CRLF, or "--" for the closing one) have arrived, whatever the chunking.
 */
export class PartCounter {
  private readonly delimiter: Buffer;
  private carry = Buffer.alloc(0);
  closed = false;

  constructor(boundary: string) {
    this.delimiter = Buffer.from(`--${boundary}`);
  }

  /** The parts that began in this chunk (by their delimiter's end). */
  push(chunk: Buffer): number {
    const length = this.delimiter.length + 2;
    const window = Buffer.concat([this.carry, chunk]);
    let parts = 0;
    for (
      let at = window.indexOf(this.delimiter);
      at >= 0 && at + length <= window.length;
      at = window.indexOf(this.delimiter, at + 1)
    ) {
      if (at + length <= this.carry.length) continue; // counted with the previous chunk
      if (window.subarray(at + this.delimiter.length, at + length).toString('latin1') === '--') this.closed = true;
      else parts++;
    }
    this.carry = window.subarray(Math.max(0, window.length - (length - 1)));
    return parts;
  }
}
