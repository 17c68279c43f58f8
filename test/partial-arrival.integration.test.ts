/**
 * A PACS that dies in the middle of sending an instance (dcmqrscp killed with SIGKILL, the process serving the
 * C-MOVE included, while a 160 MB instance streams into the Storage SCP): the client's answer fails, and the
 * partial file in the cache's incoming/ directory is removed as that association ends — not at the next start.
 * What only a crash of the gateway itself leaves there is removed at its next start, in the archive as in the cache.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { tempDir } from '../devkit/temp.js';
import { startTestGateway } from './harness/gateway.js';
import { largeInstanceHead } from './harness/large-instance.js';
import { EmbeddedArchive } from '../src/backends/embedded/embedded-archive.js';

const STUDY = '1.2.826.0.1.3680043.99.41';
const SERIES = `${STUDY}.1`;
const INSTANCE = `${SERIES}.1`;

/** A secondary capture instance with `pixelBytes` of pixel data, written to a file without holding it whole. */
function largeInstance(file: string, pixelBytes: number): void {
  const ids = { study: STUDY, series: SERIES, instance: INSTANCE, patientName: 'Partial^Arrival' };
  writeFileSync(file, largeInstanceHead(ids, 8192, pixelBytes / 8192 / 2));
  const chunk = Buffer.alloc(1 << 20, 0x33);
  for (let written = 0; written < pixelBytes; written += chunk.length) writeFileSync(file, chunk, { flag: 'a' });
}

const until = async (what: string, ready: () => boolean, ms: number): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('a PACS that dies mid-instance', () => {
  let pacs: TestPacs | undefined;
  let gw: Awaited<ReturnType<typeof startTestGateway>> | undefined;
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  it.each(['move', 'get'] as const)(
    'leaves no partial file in incoming/ once the association has ended (C-%s)',
    async (retrieve) => {
      const file = path.join(tempDir('partial'), 'large.dcm');
      largeInstance(file, 160 * 2 ** 20);
      const dimsePort = await freePort();
      await gw?.close();
      await pacs?.stop();
      pacs = await startDcmqrscp({
        files: [file],
        moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort },
      });
      gw = await startTestGateway(pacs, { dimse: { port: dimsePort }, pacs: { retrieve } });
      const incoming = path.join(gw.config.cache.dir, 'incoming');
      const partials = (): string[] => (existsSync(incoming) ? readdirSync(incoming) : []);

      const answer = fetch(`${gw.base}/studies/${STUDY}/series/${SERIES}/instances/${INSTANCE}`, {
        headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      }).then(
        async (r) => ({ status: r.status, bytes: (await r.arrayBuffer()).byteLength }),
        (err: Error) => ({ status: 0, bytes: 0, error: err.message }),
      );
      // The instance is arriving: some megabytes of it are on disk.
      await until(
        'a partial file of a few MB in incoming/',
        () => partials().some((f) => statSync(path.join(incoming, f)).size > 4 * 2 ** 20),
        30_000,
      );
      const port = pacs.port;
      // Every dcmqrscp process of this PACS at once: the listener and the child serving the C-MOVE.
      await run('pkill', ['-KILL', '-f', `dcmqrscp .* ${port}$`]);
      const ended = await answer;
      expect(ended.bytes).toBeLessThan(160 * 2 ** 20);
      // Removed as the association ends (the PACS's connection closing), which is before the answer is over.
      await until('incoming/ empty', () => partials().length === 0, 2_000);
      expect(
        existsSync(path.join(gw.config.cache.dir, 'instances'))
          ? readdirSync(path.join(gw.config.cache.dir, 'instances'), { recursive: true }).filter((f) =>
              String(f).endsWith('.dcm'),
            )
          : [],
      ).toEqual([]);
    },
  );
});

describe('a crash of the gateway mid-instance', () => {
  it("leaves nothing in the archive's incoming/ after the next start", async () => {
    const dir = tempDir('archive-leftover');
    const first = await EmbeddedArchive.open({ dir, duplicates: 'keep', minFreeBytes: 0, inlineBinaryMaxBytes: 1024 });
    await first.close();
    writeFileSync(path.join(dir, 'incoming', '1.2.3.4.abcdef.part'), Buffer.alloc(4096));
    const again = await EmbeddedArchive.open({ dir, duplicates: 'keep', minFreeBytes: 0, inlineBinaryMaxBytes: 1024 });
    try {
      expect(readdirSync(path.join(dir, 'incoming'))).toEqual([]);
    } finally {
      await again.close();
    }
  });
});
