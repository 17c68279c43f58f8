/**
 * Hostile input: random and mutated PDUs thrown at the Storage SCP, random paths, query strings and headers
 * thrown at QIDO, WADO and rendered resources. The gateway stays up, its memory stays bounded, and every request
 * gets a well-formed answer: a success, or a 4xx/5xx with a JSON body. Seeded, so a failure can be replayed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { run } from '../devkit/processes.js';
import { allInstances } from '../src/samples/catalog.js';
import { encodePdu, PduType } from '../src/dimse-bridge/pdu.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

function prng(seed: number): {
  next(): number;
  int(n: number): number;
  pick<T>(list: readonly T[]): T;
  bytes(n: number): Buffer;
} {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    s ^= s >>> 13;
    return (s >>> 0) / 2 ** 32;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)] as never,
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
  };
}

const SEED = Number(process.env.DWG_FUZZ_SEED ?? 20261129);

describe('fuzzing (seed DWG_FUZZ_SEED)', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  beforeAll(async () => {
    pacs = await startDcmqrscp();
    gw = await startTestGateway(pacs, {
      pacs: { retrieve: 'get' },
      dimse: { listen: true, artimTimeoutMs: 400, requestTimeoutMs: 400, idleTimeoutMs: 500 },
      limits: { clientRequests: 0, tenantRequests: 0, windowSeconds: 60 },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
  });

  it('survives random and mutated PDUs at the Storage SCP and still answers C-ECHO afterwards', async () => {
    const r = prng(SEED);
    const valid = encodePdu({
      type: PduType.AssociateRQ,
      protocolVersion: 1,
      calledAeTitle: 'DICOMWEB',
      callingAeTitle: 'FUZZER',
      applicationContext: '1.2.840.10008.3.1.1.1',
      presentationContexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
      userInformation: {
        maxPduLength: 16384,
        implementationClassUid: '1.2.3',
        implementationVersionName: 'FUZZ',
        roleSelections: [],
        extendedNegotiations: [],
        otherItems: [],
      },
    });
    const rssBefore = process.memoryUsage().rss;
    const leftOpen: number[] = [];
    for (let i = 0; i < 100; i++) {
      let payload: Buffer;
      const kind = r.int(4);
      if (kind === 0) payload = r.bytes(1 + r.int(3000));
      else if (kind === 1) {
        payload = Buffer.from(valid);
        for (let k = 0; k < 1 + r.int(8); k++) payload[r.int(payload.length)] = r.int(256);
      } else if (kind === 2) {
        payload = Buffer.concat([valid, r.bytes(r.int(200))]);
        payload.writeUInt32BE(r.pick([0, 1, 0xffffffff, 0x7fffffff, r.int(2 ** 31)]), 2);
      } else
        payload = Buffer.concat([valid.subarray(0, r.int(valid.length)), Buffer.from([4, 0, 0xff, 0xff, 0xff, 0xff])]);
      await new Promise<void>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port: gw.scpPort }, () => socket.write(payload));
        const done = (): void => {
          clearTimeout(timer);
          socket.destroy();
          resolve();
        };
        // The SCP must close by itself: an A-ABORT/RJ, its ARTIM timer (400 ms) or its idle timer (500 ms).
        const timer = setTimeout(() => {
          leftOpen.push(i);
          socket.destroy();
          resolve();
        }, 3000);
        socket.on('close', done);
        socket.on('error', done);
        socket.on('data', () => {});
      });
    }
    expect(leftOpen).toEqual([]);
    // Still a working SCP: C-ECHO from DCMTK.
    await run('echoscu', ['-aec', 'DICOMWEB', '127.0.0.1', String(gw.scpPort)]);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
  });

  it('answers random paths, queries and headers with a success or a JSON error, and keeps answering', async () => {
    const r = prng(SEED + 1);
    const inst = [...allInstances()][0];
    const uids = [
      inst?.study.uid,
      inst?.series.uid,
      inst?.uid,
      '1.2.3',
      '',
      '..',
      '%2e%2e',
      '1.2.x',
      '9'.repeat(70),
      '1..2',
      '%00',
      '%',
      'ü',
      '1.2.3;rm',
      '%2F%2Fetc',
    ];
    const templates = [
      (a: string) => `/studies?${a}`,
      (a: string) => `/series?${a}`,
      (a: string) => `/instances?${a}`,
      (a: string, s: string) => `/studies/${s}/series?${a}`,
      (a: string, s: string, se: string) => `/studies/${s}/series/${se}/instances?${a}`,
      (_a: string, s: string) => `/studies/${s}`,
      (_a: string, s: string) => `/studies/${s}/metadata`,
      (a: string, s: string, se: string, i: string) =>
        `/studies/${s}/series/${se}/instances/${i}/frames/${r.pick(['1', '0', '1,2', 'a', '99999999999', '-1', '1,,2'])}?${a}`,
      (a: string, s: string, se: string, i: string) => `/studies/${s}/series/${se}/instances/${i}/rendered?${a}`,
      (a: string, s: string, se: string, i: string) => `/studies/${s}/series/${se}/instances/${i}/thumbnail?${a}`,
      (_a: string, s: string, se: string, i: string) =>
        `/studies/${s}/series/${se}/instances/${i}/bulkdata/${r.pick(['7FE00010', '00000000', 'zz', '7FE00010/0/00000000', '..%2F..'])}`,
    ];
    const names = [
      'PatientName',
      'PatientID',
      '00100010',
      'StudyDate',
      'limit',
      'offset',
      'includefield',
      'fuzzymatching',
      'window',
      'viewport',
      'quality',
      'annotation',
      'accept',
      'iccprofile',
      '00400275.00401001',
      'x',
      '',
      '%',
      'ModalitiesInStudy',
    ];
    const values = [
      '*',
      'Doe*',
      '20200101-',
      '-',
      '1,2',
      '40,400',
      '40,400,sigmoid',
      'a,b,c',
      '',
      '%25',
      '1e309',
      '-1',
      '999999999999',
      'image/png',
      'all',
      'true',
      '\\',
      'ü',
      'A'.repeat(300),
      '512,512,0,0,-10,10',
    ];
    const accepts = [
      undefined,
      '*/*',
      'image/png',
      'multipart/related; type="application/dicom"; transfer-syntax=*',
      'multipart/related; type="image/jpeg"',
      'application/dicom+json',
      'garbage;;;q=x',
      'multipart/related; type=',
      'text/html',
    ];
    const failures: string[] = [];
    for (let i = 0; i < 250; i++) {
      const query = Array.from(
        { length: r.int(4) },
        () => `${r.pick(names)}=${encodeURIComponent(r.pick(values))}`,
      ).join('&');
      const target = r.pick(templates)(query, r.pick(uids) ?? '', r.pick(uids) ?? '', r.pick(uids) ?? '');
      const headers: Record<string, string> = {};
      const accept = r.pick(accepts);
      if (accept) headers.accept = accept;
      if (r.next() < 0.2) headers.range = r.pick(['bytes=0-9', 'bytes=-5', 'bytes=9-0', 'bytes=a-b', 'items=1-2']);
      if (r.next() < 0.1) headers['if-none-match'] = r.pick(['"x"', '*', 'W/"y"']);
      if (r.next() < 0.1) headers.authorization = r.pick(['Bearer x.y.z', 'Basic Zm9v', 'Bearer']);
      let res: Response;
      try {
        res = await fetch(`${gw.base}${target}`, { headers, signal: AbortSignal.timeout(20_000) });
      } catch (err) {
        failures.push(`${target}: no answer (${(err as Error).message})`);
        continue;
      }
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status < 200 || res.status > 599) failures.push(`${target}: status ${res.status}`);
      if (res.status >= 400 && res.status !== 431) {
        try {
          const json = JSON.parse(body.toString('utf8')) as { error?: unknown };
          if (typeof json.error !== 'string') failures.push(`${target}: ${res.status} without an error code`);
        } catch {
          failures.push(`${target}: ${res.status} with a body that is not JSON`);
        }
      }
      if (res.status === 500) failures.push(`${target}: 500 ${body.toString('utf8').slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect((await fetch(`${gw.base.replace('/dicomweb', '')}/healthz`)).status).toBe(200);
  });
});
