import { rmSync } from 'node:fs';
import { freePort, waitForPort } from './ports.js';
import { startProcess } from './processes.js';
import { tempDir } from './temp.js';

/** A Redis server started for a test on loopback: no persistence, its own port and directory. */
export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(options: { port?: number } = {}): Promise<TestRedis> {
  const dir = tempDir('redis');
  const port = options.port ?? (await freePort());
  const proc = startProcess(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { env: process.env },
  );
  try {
    await waitForPort(port, 10_000);
  } catch (err) {
    await proc.stop();
    throw new Error(`redis-server did not start: ${(err as Error).message}\n${proc.output()}`);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
