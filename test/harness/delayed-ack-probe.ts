/**
 * Run inside a fresh network namespace (`unshare -rn`), where the kernel's TCP counters see only this process's
 * traffic: a PACS as shipped (Nagle on), the gateway in front of it, N sequential searches. Prints one JSON line:
 * how many delayed ACKs the kernel sent meanwhile (TcpExt DelayedACKs).
 */
import { readFileSync } from 'node:fs';
import { PACS_KINDS } from '../../devkit/pacs.js';
import { startTestGateway } from './gateway.js';
import { cleanupTempDirs } from '../../devkit/temp.js';

function delayedAcks(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('TcpExt:'));
  const names = (lines[0] ?? '').split(' ');
  const values = (lines[1] ?? '').split(' ');
  return Number(values[names.indexOf('DelayedACKs')]);
}

const kind = (process.argv[2] ?? 'dcmqrscp') as keyof typeof PACS_KINDS;
const requests = Number(process.argv[3] ?? 30);
const pacs = await PACS_KINDS[kind]();
const gw = await startTestGateway(pacs);
try {
  const url = `${gw.base}/studies?PatientName=Doe*`;
  const warm = await fetch(url);
  const matches = ((await warm.json()) as unknown[]).length;
  const before = delayedAcks();
  for (let i = 0; i < requests; i++) {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`search answered ${res.status}`);
    await res.arrayBuffer();
  }
  process.stdout.write(`${JSON.stringify({ kind, requests, matches, delayedAcks: delayedAcks() - before })}\n`);
} finally {
  await gw.close();
  await pacs.stop();
  cleanupTempDirs();
}
