/**
 * `dicomweb-gateway probe` (issue 14): what a PACS supports — negotiation, a C-ECHO, one C-FIND per level, one
 * instance retrieved by C-GET and by C-MOVE to a Storage SCP lent for it — against dcmqrscp and Orthanc as they
 * ship, which differ (storage transfer syntaxes, PDU size, the keys they return).
 */
import net from 'node:net';
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { startDcmqrscp, startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import type { PacsCapabilities } from '../src/backends/dimse/pacs-probe.js';
import { TransferSyntax } from '../src/dicom/transfer-syntax.js';
import { allInstances, allStudies } from '../src/samples/catalog.js';
import { gatewayInFrontOfDcmqrscp, startTestGateway } from './harness/gateway.js';
import { fetchMultipart } from './harness/multipart.js';

const UNCOMPRESSED = [
  TransferSyntax.ImplicitVRLittleEndian,
  TransferSyntax.ExplicitVRLittleEndian,
  TransferSyntax.ExplicitVRBigEndian,
].sort();

/** The command as an operator runs it, pointed at `pacs` by environment variables, its Storage SCP on `scpPort`. */
function probe(
  pacs: Pick<TestPacs, 'aeTitle' | 'host' | 'port'>,
  scpPort: number,
  ...args: string[]
): Promise<{ stdout: string; stderr: string; code: number }> {
  return run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'probe', ...args], {
    env: {
      ...process.env,
      DICOMWEB_PACS_AE_TITLE: pacs.aeTitle,
      DICOMWEB_PACS_HOST: pacs.host,
      DICOMWEB_PACS_PORT: String(pacs.port),
      DICOMWEB_DIMSE_HOST: '127.0.0.1',
      DICOMWEB_DIMSE_PORT: String(scpPort),
      DICOMWEB_LOG_LEVEL: 'silent',
    },
  });
}

const probeDirs = (): string[] =>
  readdirSync(os.tmpdir())
    .filter((d) => d.startsWith('dicomweb-probe-'))
    .sort();

describe('probe', () => {
  it.each([
    ['dcmqrscp', startDcmqrscp],
    ['orthanc', startOrthanc],
  ] as const)('reads what %s supports', async (kind, start) => {
    const scpPort = await freePort();
    const pacs = await start({ moveDestination: { aeTitle: 'DICOMWEB', host: '127.0.0.1', port: scpPort } });
    const dirsBefore = probeDirs();
    try {
      const found = JSON.parse((await probe(pacs, scpPort, '--json')).stdout) as PacsCapabilities;
      expect(found.target).toBe(`${pacs.aeTitle}@${pacs.host}:${pacs.port}`);
      expect(found.echo).toMatchObject({ status: '0x0000' });
      // Both are built on DCMTK, and say so in their A-ASSOCIATE-AC (PS3.7 Annex D.3.3.2).
      expect(found.implementation.classUid.startsWith('1.2.276.0.7230010.3.')).toBe(true);
      expect(found.implementation.versionName).toMatch(/^OFFIS_DCMTK_/);
      expect(found.models['Study Root']).toEqual({ find: true, move: true, get: true });
      // What each announces (docs/conformance.md Table 3-4): the devkit's dcmqrscp.cfg says 65536; Orthanc its own 16384.
      expect(found.maxPduLength).toBe(kind === 'dcmqrscp' ? 65536 : 16384);
      // Neither grants C-FIND extended negotiation.
      expect(found.findOptions).toBeUndefined();
      // Every level answers; an instance was found to retrieve, and none of the UIDs the PACS holds is reported.
      expect(found.levels).toEqual({
        'Patient Root': { PATIENT: 'matches' },
        'Study Root': { STUDY: 'matches', SERIES: 'matches', IMAGE: 'matches' },
      });
      expect(found.sample).toBeDefined();
      const reported = JSON.stringify(found);
      for (const instance of allInstances())
        for (const uid of [instance.uid, instance.series.uid, instance.study.uid]) expect(reported).not.toContain(uid);
      // Both deliver it by C-GET, and by C-MOVE with our C-MOVE's Message ID as Move Originator (PS3.7 §9.3.1.1).
      expect(found.get.outcome).toBe('delivered');
      expect(found.move).toMatchObject({ outcome: 'delivered', echoesMoveOriginator: true });
      expect(found.move.detail).toMatch(/^to DICOMWEB, Move Originator DICOMWEB\/(\d+) for our DICOMWEB\/\1$/);
      if (kind === 'dcmqrscp') {
        // Its configuration as the devkit starts it stores uncompressed only.
        expect([...found.storageTransferSyntaxes].sort()).toEqual(UNCOMPRESSED);
        // Its index does not return SOP Class UID at IMAGE level.
        expect(found.sample?.sopClassUid).toBeUndefined();
      } else {
        expect([...allInstances()].map((i) => i.sopClassUid)).toContain(found.sample?.sopClassUid);
        // Orthanc stores what it is sent, compressed ones included.
        for (const ts of [
          ...UNCOMPRESSED,
          TransferSyntax.JPEG2000Lossless,
          TransferSyntax.JPEGBaseline8Bit,
          TransferSyntax.RLELossless,
        ])
          expect(found.storageTransferSyntaxes).toContain(ts);
      }
      const human = (await probe(pacs, scpPort)).stdout;
      expect(human).toContain(`PACS ${found.target}`);
      expect(human).toMatch(/Study Root Q\/R: +FIND yes, MOVE yes, GET yes/);
      expect(human).toMatch(/C-MOVE of one instance: +delivered: .* echoes Move Originator Message ID/);
      // The instance the lent Storage SCP received is deleted with its directory.
      expect(probeDirs()).toEqual(dirsBefore);
    } finally {
      await pacs.stop();
    }
  });

  it("says why C-MOVE failed when the PACS does not know us, and when our Storage SCP's port is taken", async () => {
    // Orthanc knows no move destination here, and answers such a C-MOVE with 0xC000, not 0xA801 (PS3.4 §C.4.2.1.5).
    const pacs = await startOrthanc();
    const taken = net.createServer();
    try {
      const scpPort = await freePort();
      const unknown = JSON.parse((await probe(pacs, scpPort, '--json')).stdout) as PacsCapabilities;
      expect(unknown.get.outcome).toBe('delivered');
      expect(unknown.move).toEqual({
        outcome: 'failed',
        detail: expect.stringMatching(/^C-MOVE failed with status 0xC000/) as unknown,
      });
      await new Promise<void>((resolve) => taken.listen(scpPort, '127.0.0.1', resolve));
      const busy = JSON.parse((await probe(pacs, scpPort, '--json')).stdout) as PacsCapabilities;
      expect(busy.move).toEqual({
        outcome: 'not tried',
        detail: expect.stringContaining(`dimse.port ${scpPort} is in use`) as unknown,
      });
      expect(busy.get.outcome).toBe('delivered');
    } finally {
      taken.close();
      await pacs.stop();
    }
  });

  it('says why when the PACS cannot be reached, and that the embedded archive has nothing to probe', async () => {
    const nobody = { aeTitle: 'NOBODY', host: '127.0.0.1', port: await freePort() };
    const refused = await probe(nobody, await freePort()).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/probing the PACS NOBODY@127\.0\.0\.1:\d+ failed: .*(refused|ECONNREFUSED)/i);
    const embedded = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'probe'], {
      env: { ...process.env, DICOMWEB_LOG_LEVEL: 'silent' },
    }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(embedded).toMatch(/exited with 2/);
    expect(embedded).toMatch(/tenant default has no PACS/);
  });
});

describe('pacs.retrieve auto', () => {
  const seriesRequest = (base: string): { url: string; instances: number } => {
    const { study } = allStudies().find((s) => s.study.series.length > 0) ?? {};
    const series = study?.series[0];
    if (!study || !series) throw new Error('no fixture series');
    return { url: `${base}/studies/${study.uid}/series/${series.uid}`, instances: series.instances };
  };
  const accept = { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' };

  it('retrieves by C-GET from a PACS that does not know us as a move destination, the probe run by the first retrieval', async () => {
    const pacs = await startOrthanc();
    const gw = await startTestGateway(pacs, { pacs: { retrieve: 'auto' }, metrics: { enabled: true, port: 0 } });
    try {
      expect(gw.archive.capabilities.latest).toBeUndefined(); // no probe at start here (pacs.probeAtStart off)
      const { url, instances } = seriesRequest(gw.base);
      const answer = await fetchMultipart(url, { headers: accept });
      expect(answer.status).toBe(200);
      expect(answer.parts).toHaveLength(instances);
      expect(gw.archive.capabilities.latest).toMatchObject({
        move: { outcome: 'failed' },
        get: { outcome: 'delivered' },
      });
      expect(gw.archive.peer.retrieval).toBe('get');
      // Operators see the choice and why beside the findings (metrics listener).
      const report = (await (await fetch(`${gw.metricsUrl ?? ''}/admin/pacs`)).json()) as Record<
        string,
        { retrieval: unknown; probe: { get?: { outcome: string } } }
      >;
      expect(report.default?.retrieval).toEqual({ method: 'get', chosenBy: 'probe' });
      expect(report.default?.probe.get?.outcome).toBe('delivered');
      // Nothing came to our Storage SCP: the instances arrived on the C-GET association.
      expect(gw.archive.storageScp?.tallies.stored).toBe(0);
    } finally {
      await gw.close();
      await pacs.stop();
    }
  });

  it('retrieves by C-MOVE from a PACS that delivers to us, as probed at start', async () => {
    const { pacs, gw } = await gatewayInFrontOfDcmqrscp({ pacs: { retrieve: 'auto', probeAtStart: true } });
    try {
      await gw.archive.capabilities.settled();
      expect(gw.archive.capabilities.latest).toMatchObject({
        move: { outcome: 'delivered', echoesMoveOriginator: true },
      });
      expect(gw.archive.peer.retrieval).toBe('move');
      const storedByProbe = gw.archive.storageScp?.tallies.stored ?? NaN;
      expect(storedByProbe).toBe(1); // the probe's instance, through the Storage SCP like any C-MOVE's
      const { url, instances } = seriesRequest(gw.base);
      const answer = await fetchMultipart(url, { headers: accept });
      expect(answer.status).toBe(200);
      expect(answer.parts).toHaveLength(instances);
      expect(gw.archive.storageScp?.tallies.stored).toBe(storedByProbe + instances);
    } finally {
      await gw.close();
      await pacs.stop();
    }
  });
});
