/**
 * The gateway as a process of its own in benchmarks (its peak RSS is read from /proc), configured in front of a
 * PACS or on a new embedded archive, and stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestPacs } from '../devkit/pacs.js';
import { freePort, waitForPort } from '../devkit/ports.js';
import { cliNodeFlags } from '../devkit/cli-flags.js';

export interface GatewayProcess {
  httpPort: number;
  dimsePort: number;
  /** `http(s)://127.0.0.1:{port}/dicomweb` */
  base: string;
  process: ChildProcess;
  /** Lines the gateway logged on stdout (when started with `captureLog`). */
  logLines: string[];
  stop(): Promise<void>;
}

export interface GatewayOptions {
  /** In front of this PACS (else on a new embedded archive under `work/name`). */
  pacs?: TestPacs;
  /** HTTPS with this certificate; HTTP/2 offered by ALPN unless `http2: false`. */
  tls?: { cert: string; key: string; http2?: boolean };
  /** More `pacs:` settings, YAML flow style (e.g. `maxAssociations: 8`). */
  pacsSettings?: string;
  /** Several archives: the `pacs:` list, YAML flow style (instead of `pacs` and the embedded archive). */
  members?: string;
  /** The Storage SCP's port (a C-MOVE destination the PACS knows); a free one if not given. */
  dimsePort?: number;
  aeTitle?: string;
  /** The cache's byte budget (under `work/name-cache`); default 4GiB. */
  cacheMaxBytes?: string | number;
  /** More YAML, top-level keys (e.g. `render: {...}`). */
  yaml?: string;
  logLevel?: string;
  /** Keep what the gateway logs on stdout in `logLines` (else it goes to this process's stdout). */
  captureLog?: boolean;
  /** Node options for the gateway process (e.g. a CPU profile). */
  nodeArgs?: string[];
}

export async function startGateway(work: string, name: string, options: GatewayOptions = {}): Promise<GatewayProcess> {
  const httpPort = await freePort();
  const dimsePort = options.dimsePort ?? (await freePort());
  const configFile = path.join(work, `${name}.yaml`);
  const pacs = options.pacs;
  const tls = options.tls
    ? `, tls: { cert: ${options.tls.cert}, key: ${options.tls.key} }, http2: ${options.tls.http2 ?? true}`
    : '';
  writeFileSync(
    configFile,
    `http: { host: 127.0.0.1, port: ${httpPort}, basePath: /dicomweb${tls} }
dimse: { aeTitle: ${options.aeTitle ?? 'DICOMWEB'}, host: 127.0.0.1, port: ${dimsePort}${pacs ? '' : ', minFreeBytes: 0'} }
${options.members ? `pacs: ${options.members}` : pacs ? `pacs: { aeTitle: ${pacs.aeTitle}, host: 127.0.0.1, port: ${pacs.port}, retrieve: move${options.pacsSettings ? `, ${options.pacsSettings}` : ''} }` : `archive: { dir: ${path.join(work, name)} }`}
cache: { dir: ${path.join(work, `${name}-cache`)}, maxBytes: ${options.cacheMaxBytes ?? '4GiB'} }
auth: { mode: none }
limits: { clientRequests: 0, tenantRequests: 0 }   # measuring throughput, not admission control
log: { level: ${options.logLevel ?? process.env.DWG_BENCH_LOG ?? 'warn'} }
${options.yaml ?? ''}
`,
  );
  const child = spawn(
    process.execPath,
    [...cliNodeFlags(), ...(options.nodeArgs ?? []), 'dist/cli.js', 'serve', '--config', configFile],
    {
      stdio: ['ignore', options.captureLog ? 'pipe' : 'inherit', 'inherit'],
      env: { ...process.env, ...(process.env.DWG_UV ? { UV_THREADPOOL_SIZE: process.env.DWG_UV } : {}) },
    },
  );
  const logLines: string[] = [];
  if (options.captureLog && child.stdout) {
    let rest = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      logLines.push(...lines);
    });
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(httpPort);
  if (!pacs) await waitForPort(dimsePort);
  return {
    httpPort,
    dimsePort,
    base: `${options.tls ? 'https' : 'http'}://127.0.0.1:${httpPort}/dicomweb`,
    process: child,
    logLines,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The objects of the gateway's JSON log lines whose message is `msg`. */
export function logged(gateway: GatewayProcess, msg: string): Record<string, unknown>[] {
  return gateway.logLines.flatMap((line) => {
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      return o.msg === msg ? [o] : [];
    } catch {
      return [];
    }
  });
}
