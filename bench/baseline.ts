/** The network baseline of every retrieval benchmark: DCMTK movescu asking the PACS to send a series to storescp. */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { TestPacs } from '../devkit/pacs.js';
import { waitForPort } from '../devkit/ports.js';
import { run, startProcess, DCMTK_ENV } from '../devkit/processes.js';
import type { Timing } from './wado.js';

/**
 * movescu → storescp (AE title BASELINE, which the PACS must know at `port`) of one series, both tuned
 * (TCP_NODELAY=1): the DCMTK tools at their best, whatever the PACS. First byte: the first file seen (polled).
 */
export async function baselineMove(
  work: string,
  pacs: TestPacs,
  port: number,
  study: { studyUid: string; seriesUid: string; instances: number; bytes: number },
): Promise<Timing> {
  const env = DCMTK_ENV;
  const dir = path.join(work, 'baseline');
  mkdirSync(dir);
  const storescp = startProcess('storescp', ['-aet', 'BASELINE', '-od', dir, String(port)], { env });
  try {
    await waitForPort(port);
    const started = performance.now();
    let first = -1;
    const poll = setInterval(() => {
      if (first < 0 && readdirSync(dir).length > 0) first = performance.now() - started;
    }, 2);
    await run(
      'movescu',
      [
        '-S',
        '-aem',
        'BASELINE',
        '-aec',
        pacs.aeTitle,
        '127.0.0.1',
        String(pacs.port),
        '-k',
        'QueryRetrieveLevel=SERIES',
        '-k',
        `StudyInstanceUID=${study.studyUid}`,
        '-k',
        `SeriesInstanceUID=${study.seriesUid}`,
      ],
      { env },
    );
    const total = performance.now() - started;
    clearInterval(poll);
    const files = readdirSync(dir);
    if (files.length !== study.instances)
      throw new Error(`movescu → storescp: ${files.length} of ${study.instances} instances`);
    return { ttfbMs: first, totalMs: total, bytes: study.bytes };
  } finally {
    await storescp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
