/**
 * DICOM TLS (PS3.15 Annex B) both ways, against DCMTK: echoscu +tls into our Storage SCP (mutual
 * authentication), and the gateway's C-ECHO (readyz) and C-FIND pool over TLS to DCMTK's storescp +tls.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import path from 'node:path';
import { run, startProcess, type Started } from '../devkit/processes.js';
import { freePort, waitForPort } from '../devkit/ports.js';
import { startTestGateway } from './harness/gateway.js';
import { tempDir } from '../devkit/temp.js';

const dir = tempDir('tls');
const f = (name: string): string => path.join(dir, name);

/** A throwaway CA with a server and a client certificate, made with openssl. */
async function makeCertificates(): Promise<void> {
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=dwg-test-ca',
  ]);
  for (const who of ['server', 'client']) {
    await run('openssl', [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
      '-subj',
      `/CN=${who === 'server' ? 'localhost' : 'dwg-client'}`,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${who}.pem`),
      '-days',
      '1',
    ]);
  }
}

describe('DICOM TLS', () => {
  beforeAll(makeCertificates, 60_000);

  it('our Storage SCP answers echoscu over mutually authenticated TLS, and refuses a client without a certificate', async () => {
    const gw = await startTestGateway(
      { aeTitle: 'X', host: '127.0.0.1', port: 1 },
      { dimse: { tls: { cert: f('server.pem'), key: f('server.key'), ca: f('ca.pem'), requireClientCert: true } } },
    );
    try {
      const port = String(gw.scpPort);
      const ok = await run('echoscu', [
        '+tls',
        f('client.key'),
        f('client.pem'),
        '+cf',
        f('ca.pem'),
        '-aet',
        'ECHO',
        '-aec',
        'DICOMWEB',
        '127.0.0.1',
        port,
      ]);
      expect(ok.code).toBe(0);
      await expect(
        run('echoscu', ['+tla', '+cf', f('ca.pem'), '-aet', 'ECHO', '-aec', 'DICOMWEB', '127.0.0.1', port]),
      ).rejects.toThrow();
    } finally {
      await gw.close();
    }
  });

  describe('as SCU', () => {
    let scp: Started;
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      scp = startProcess('storescp', [
        '+tls',
        f('server.key'),
        f('server.pem'),
        '+cf',
        f('ca.pem'),
        '-aet',
        'TLSSCP',
        '-od',
        dir,
        String(port),
      ]);
      await waitForPort(port);
    });
    afterAll(async () => {
      await scp?.stop();
    });

    it('reaches a TLS-only PACS (readyz over C-ECHO with a client certificate)', async () => {
      const gw = await startTestGateway(
        { aeTitle: 'TLSSCP', host: '127.0.0.1', port },
        { pacs: { tls: { ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key'), servername: 'localhost' } } },
      );
      try {
        const res = await fetch(`${gw.httpUrl}/readyz`);
        expect(res.status).toBe(200);
      } finally {
        await gw.close();
      }
    });

    it('refuses a PACS whose certificate it cannot verify (502, not a silent downgrade)', async () => {
      const gw = await startTestGateway(
        { aeTitle: 'TLSSCP', host: '127.0.0.1', port },
        { pacs: { tls: { cert: f('client.pem'), key: f('client.key'), servername: 'localhost' } } },
      );
      try {
        const res = await fetch(`${gw.base}/studies`);
        expect(res.status).toBe(502);
        expect(((await res.json()) as { error: string }).error).toBe('DWG_PACS_UNREACHABLE');
      } finally {
        await gw.close();
      }
    });
  });
});
