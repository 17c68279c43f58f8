/**
 * Against a PACS as shipped (DCMTK inside, Nagle on), each C-FIND match used to wait ~40 ms for our delayed ACK
 * (issue 10 item 9). In a network namespace of its own — where the kernel's TCP counters count only this traffic —
 * 30 searches through the gateway must not make the kernel send delayed ACKs: the gateway acknowledges at once.
 */
import { describe, it, expect } from 'vitest';
import { run } from '../devkit/processes.js';

describe('no delayed ACKs against a PACS as shipped', () => {
  for (const kind of ['dcmqrscp', 'orthanc'] as const) {
    it(`${kind}: 30 searches, fewer than 15 delayed ACKs (one or more per search without TCP_QUICKACK)`, async () => {
      // unshare -rn: a user and network namespace (works as root and as an ordinary user); lo must be brought up.
      const { stdout } = await run(
        'unshare',
        [
          '-rn',
          'sh',
          '-c',
          `ip link set lo up && exec "${process.execPath}" --import tsx test/harness/delayed-ack-probe.ts ${kind} 30`,
        ],
        { env: process.env },
      );
      const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
        matches: number;
        delayedAcks: number;
        requests: number;
      };
      expect(result.matches).toBe(2);
      expect(result.requests).toBe(30);
      expect(result.delayedAcks).toBeLessThan(15);
    });
  }
});
