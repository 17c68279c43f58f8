/**
 * In front of a PACS, the Storage SCP stores only what a retrieval of the gateway brings (issue 10 item 1): a
 * forged copy of a cached instance, an instance planted before anyone asked, a spoofed calling AE title — all
 * refused with a C-STORE failure and audited as Security Alerts; the PACS's own instances keep being served.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startDcmqrscp, type TestPacs } from '../devkit/pacs.js';
import { startTestGateway } from './harness/gateway.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import { fixtureFiles } from '../devkit/fixtures.js';
import { allInstances, type FixtureInstance } from '../src/samples/catalog.js';
import type { DicomJsonObject } from '../src/dicom/json-model.js';
import { tempDir } from '../devkit/temp.js';

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

const instances = [...allInstances()];
const fileOf = (i: FixtureInstance): string => fixtureFiles().files[instances.indexOf(i)] as string;

describe('Storage SCP admission in front of a PACS', () => {
  let pacs: TestPacs;
  let gw: Gateway;
  const work = tempDir('admission');
  const auditFile = path.join(work, 'audit.jsonl');

  beforeAll(async () => {
    const dimsePort = await freePort();
    pacs = await startDcmqrscp({ moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: dimsePort } });
    // The PACS's AE title is on the allow-list: an attacker who spoofs it must still be refused.
    gw = await startTestGateway(pacs, {
      dimse: { port: dimsePort, allowedCallingAeTitles: ['QRSCP', 'ANY'] },
      audit: { file: auditFile },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await pacs?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** A copy of the instance's file with the same UIDs and another patient name. */
  function forged(i: FixtureInstance): string {
    const file = path.join(work, `forged-${i.uid}.dcm`);
    copyFileSync(fileOf(i), file);
    return file;
  }
  async function forge(i: FixtureInstance): Promise<string> {
    const file = forged(i);
    await run('dcmodify', ['-nb', '-m', 'PatientName=FORGED^NAME', file]);
    return file;
  }
  async function storescu(callingAe: string, file: string): Promise<string> {
    // storescu exits 1 when a store fails: its message is what the test reads.
    return run('storescu', ['-v', '-aet', callingAe, '-aec', 'DICOMWEB', '127.0.0.1', String(gw.scpPort), file]).then(
      (r) => `${r.stdout}${r.stderr}`,
      (err: Error) => err.message,
    );
  }
  async function patientName(i: FixtureInstance): Promise<string | undefined> {
    const res = await fetch(`${gw.base}/studies/${i.study.uid}/series/${i.series.uid}/instances/${i.uid}/metadata`);
    expect(res.status).toBe(200);
    const [ds] = (await res.json()) as DicomJsonObject[];
    return (ds?.['00100010']?.Value?.[0] as { Alphabetic?: string } | undefined)?.Alphabetic;
  }

  it("refuses a forged copy of a cached instance from any calling AE title, the PACS's own included", async () => {
    const target = instances.find((i) => i.patient.id === 'PAT-ASCII-1') as FixtureInstance;
    const original = await patientName(target); // retrieved from the PACS, now cached
    expect(original).toBe(target.patient.name);
    const file = await forge(target);
    for (const callingAe of ['ANY', 'QRSCP']) {
      const out = await storescu(callingAe, file);
      expect(out, callingAe).toMatch(/Received Store Response \(Unknown Status: 0x124\)/);
    }
    expect(await patientName(target)).toBe(original);
  });

  it("refuses an instance planted before anyone asked for it; the first request gets the PACS's", async () => {
    const target = instances.find((i) => i.patient.id === 'PAT-UTF8') as FixtureInstance;
    const out = await storescu('QRSCP', await forge(target));
    expect(out).toMatch(/Received Store Response \(Unknown Status: 0x124\)/);
    expect(await patientName(target)).toBe(target.patient.name.split('=')[0]);
  });

  it('audits each refusal as a Security Alert (110113) with the reason', () => {
    const records = readFileSync(auditFile, 'utf8')
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            event: { id: string };
            request: { method: string };
            reason?: string;
            who: { subject: string };
          },
      );
    const alerts = records.filter((r) => r.event.id === '110113' && r.request.method === 'C-STORE');
    expect(alerts.length).toBeGreaterThanOrEqual(3);
    expect(alerts.map((a) => a.who.subject).sort()).toEqual(expect.arrayContaining(['ANY', 'QRSCP']));
    for (const a of alerts) expect(a.reason).toMatch(/no retrieval of this gateway expects this instance/);
  });

  it('still receives every instance of a retrieval it started (C-MOVE sub-operations from the PACS)', async () => {
    const study = instances.find((i) => i.patient.id === 'PAT-LATIN1')?.study;
    const res = await fetch(`${gw.base}/studies/${study?.uid}/metadata`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as unknown[]).length).toBe(instances.filter((i) => i.study.uid === study?.uid).length);
  });
});

describe('Storage SCP exposure', () => {
  it('does not listen with pacs.retrieve: get unless dimse.listen says so', async () => {
    const pacs = await startDcmqrscp();
    try {
      const gw = await startTestGateway(pacs, { pacs: { retrieve: 'get' } });
      try {
        expect(gw.archive.storageScp).toBeUndefined();
        const study = instances[0]?.study;
        const res = await fetch(`${gw.base}/studies/${study?.uid}/metadata`);
        expect(res.status).toBe(200);
        expect(((await res.json()) as unknown[]).length).toBe(
          instances.filter((i) => i.study.uid === study?.uid).length,
        );
      } finally {
        await gw.close();
      }
      const listening = await startTestGateway(pacs, { pacs: { retrieve: 'get' }, dimse: { listen: true } });
      try {
        expect((await run('echoscu', ['-aec', 'DICOMWEB', '127.0.0.1', String(listening.scpPort)])).code).toBe(0);
      } finally {
        await listening.close();
      }
    } finally {
      await pacs.stop();
    }
  });

  it('closes connections from addresses outside dimse.allowedPeers before any association', async () => {
    const pacs = await startDcmqrscp();
    const gw = await startTestGateway(pacs, { dimse: { allowedPeers: ['192.0.2.0/24'] } });
    try {
      await expect(run('echoscu', ['-aec', 'DICOMWEB', '127.0.0.1', String(gw.scpPort)])).rejects.toThrow(
        /exited with/,
      );
    } finally {
      await gw.close();
      await pacs.stop();
    }
    const allowed = await startTestGateway(pacs, { dimse: { allowedPeers: ['127.0.0.0/8'] } });
    try {
      expect((await run('echoscu', ['-aec', 'DICOMWEB', '127.0.0.1', String(allowed.scpPort)])).code).toBe(0);
    } finally {
      await allowed.close();
    }
  });
});
