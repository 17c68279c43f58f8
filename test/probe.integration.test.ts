/**
 * `dicomweb-gateway probe` (issue 14): what a PACS supports, asked by negotiation and a C-ECHO, never touching its
 * data — against dcmqrscp and Orthanc as they ship, which differ (storage transfer syntaxes, PDU size).
 */
import { describe, expect, it } from 'vitest';
import { startDcmqrscp, startOrthanc, type TestPacs } from '../devkit/pacs.js';
import { freePort } from '../devkit/ports.js';
import { run } from '../devkit/processes.js';
import type { PacsCapabilities } from '../src/commands/probe-command.js';
import { TransferSyntax } from '../src/dicom/transfer-syntax.js';

const UNCOMPRESSED = [TransferSyntax.ImplicitVRLittleEndian, TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ExplicitVRBigEndian].sort();

/** The command as an operator runs it, pointed at `pacs` by environment variables. */
function probe(pacs: Pick<TestPacs, 'aeTitle' | 'host' | 'port'>, ...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'probe', ...args], {
    env: { ...process.env, DICOMWEB_PACS_AE_TITLE: pacs.aeTitle, DICOMWEB_PACS_HOST: pacs.host, DICOMWEB_PACS_PORT: String(pacs.port), DICOMWEB_LOG_LEVEL: 'silent' },
  });
}

describe('probe', () => {
  it.each([
    ['dcmqrscp', () => startDcmqrscp()],
    ['orthanc', () => startOrthanc({ loadFixtures: false })],
  ] as const)('reads what %s supports', async (kind, start) => {
    const pacs = await start();
    try {
      const found = JSON.parse((await probe(pacs, '--json')).stdout) as PacsCapabilities;
      expect(found.target).toBe(`${pacs.aeTitle}@${pacs.host}:${pacs.port}`);
      expect(found.echo).toMatchObject({ status: '0x0000' });
      // Both are built on DCMTK, and say so in their A-ASSOCIATE-AC (PS3.7 Annex D.3.3.2).
      expect(found.implementation.classUid.startsWith('1.2.276.0.7230010.3.')).toBe(true);
      expect(found.implementation.versionName).toMatch(/^OFFIS_DCMTK_/);
      expect(found.models['Study Root']).toEqual({ find: true, move: true, get: true });
      expect(found.maxPduLength).toBeGreaterThan(0);
      // Neither grants C-FIND extended negotiation.
      expect(found.findOptions).toBeUndefined();
      if (kind === 'dcmqrscp') {
        // Its configuration as the devkit starts it stores uncompressed only.
        expect([...found.storageTransferSyntaxes].sort()).toEqual(UNCOMPRESSED);
      } else {
        // Orthanc stores what it is sent, compressed ones included.
        for (const ts of [...UNCOMPRESSED, TransferSyntax.JPEG2000Lossless, TransferSyntax.JPEGBaseline8Bit, TransferSyntax.RLELossless]) expect(found.storageTransferSyntaxes).toContain(ts);
      }
      const human = (await probe(pacs)).stdout;
      expect(human).toContain(`PACS ${found.target}`);
      expect(human).toMatch(/Study Root Q\/R: +FIND yes, MOVE yes, GET yes/);
    } finally {
      await pacs.stop();
    }
  });

  it('says why when the PACS cannot be reached, and that the embedded archive has nothing to probe', async () => {
    const nobody = { aeTitle: 'NOBODY', host: '127.0.0.1', port: await freePort() };
    const refused = await probe(nobody).then(() => undefined, (err: Error) => err.message);
    expect(refused).toMatch(/probing NOBODY@127\.0\.0\.1:\d+ failed: .*(refused|ECONNREFUSED)/i);
    const embedded = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'probe'], { env: { ...process.env, DICOMWEB_LOG_LEVEL: 'silent' } }).then(() => undefined, (err: Error) => err.message);
    expect(embedded).toMatch(/exited with 2/);
    expect(embedded).toMatch(/tenant default has no PACS/);
  });
});
