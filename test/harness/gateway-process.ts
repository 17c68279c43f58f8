import { spawn } from 'node:child_process';
import { startDcmqrscp, type TestPacs } from '../../devkit/pacs.js';
import { freePort } from '../../devkit/ports.js';
import { tempDir } from '../../devkit/temp.js';

/** One JSON log line of the gateway, and the line as written. */
export type LogLine = Record<string, unknown> & { msg?: string; raw: string };

export interface GatewayProcess {
  base: string;
  pacs: TestPacs;
  /** Every line logged so far (stdout), parsed. */
  lines: LogLine[];
  /** Resolves once a line matching `match` has been logged. */
  logged(match: (line: LogLine) => boolean): Promise<LogLine>;
  stop(): Promise<void>;
}

/**
 * The gateway as the command runs (`serve`, a process of its own, its stdout read line by line) in front of a
 * dcmqrscp that knows it as a move destination; `env` adds DICOMWEB_* settings.
 */
export async function gatewayProcessInFrontOfDcmqrscp(env: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  const dimsePort = await freePort();
  const httpPort = await freePort();
  const pacs = await startDcmqrscp({ moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort } });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    env: {
      ...process.env,
      DICOMWEB_HTTP_HOST: '127.0.0.1',
      DICOMWEB_HTTP_PORT: String(httpPort),
      DICOMWEB_DIMSE_PORT: String(dimsePort),
      DICOMWEB_PACS_AE_TITLE: pacs.aeTitle,
      DICOMWEB_PACS_HOST: pacs.host,
      DICOMWEB_PACS_PORT: String(pacs.port),
      DICOMWEB_AUTH_MODE: 'none',
      DICOMWEB_CACHE_DIR: tempDir('process-cache'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const offer = (line: LogLine): void => {
    for (const w of waiters.splice(0)) {
      if (w.match(line)) w.resolve(line);
      else waiters.push(w);
    }
  };
  let rest = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const raw of parts) {
      const line = { ...(JSON.parse(raw) as Record<string, unknown>), raw } as LogLine;
      lines.push(line);
      offer(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const logged = (match: (line: LogLine) => boolean): Promise<LogLine> => {
    const seen = lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiters.push({ match, resolve });
      void exited.then((code) => reject(new Error(`the gateway exited (${code}) before logging what was awaited`)));
    });
  };
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await pacs.stop();
  };
  try {
    await logged((l) => l.msg === 'dicomweb-gateway ready');
  } catch (err) {
    await stop();
    throw err;
  }
  return { base: `http://127.0.0.1:${httpPort}/dicomweb`, pacs, lines, logged, stop };
}
