import path from 'node:path';
import { run } from './processes.js';
import { tempDir } from './temp.js';

export type TestCertificates = Record<'ca' | 'caKey' | 'cert' | 'key' | 'clientCert' | 'clientKey', string>;

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl (file paths). */
export async function testCertificates(): Promise<TestCertificates> {
  const dir = tempDir('certs');
  const f = (n: string): string => path.join(dir, n);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=dwg-test-ca',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  ]);
  const leaf = async (name: string, cn: string, ext: string): Promise<void> => {
    await run('openssl', [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
    ]);
    await run('bash', ['-c', `printf '%s\\n' '${ext}' > ${f(`${name}.ext`)}`]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.pem`),
    ]);
  };
  await leaf('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  await leaf('client', 'viewer', 'extendedKeyUsage=clientAuth');
  return {
    ca: f('ca.pem'),
    caKey: f('ca.key'),
    cert: f('server.pem'),
    key: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}
