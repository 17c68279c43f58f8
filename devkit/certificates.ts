import path from 'node:path';
import { run } from './processes.js';
import { tempDir } from './temp.js';

export type TestCertificates = Record<'ca' | 'caKey' | 'cert' | 'key' | 'clientCert' | 'clientKey', string>;

/** A certificate signed by `ca` (its key beside it in `dir`): `name`.pem and `name`.key, with extension `ext`. */
async function signedBy(
  ca: { cert: string; key: string },
  dir: string,
  name: string,
  cn: string,
  ext: string,
): Promise<{ cert: string; key: string }> {
  const f = (n: string): string => path.join(dir, n);
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
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f(`${name}.ext`),
    '-out',
    f(`${name}.pem`),
  ]);
  return { cert: f(`${name}.pem`), key: f(`${name}.key`) };
}

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
  const ca = { cert: f('ca.pem'), key: f('ca.key') };
  const server = await signedBy(ca, dir, 'server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  const client = await signedBy(ca, dir, 'client', 'viewer', 'extendedKeyUsage=clientAuth');
  return {
    ca: ca.cert,
    caKey: ca.key,
    cert: server.cert,
    key: server.key,
    clientCert: client.cert,
    clientKey: client.key,
  };
}

/** Another client certificate from the same CA, for subject `cn`. */
export function anotherClientCertificate(certs: TestCertificates, cn: string): Promise<{ cert: string; key: string }> {
  return signedBy(
    { cert: certs.ca, key: certs.caKey },
    tempDir('client-cert'),
    'client',
    cn,
    'extendedKeyUsage=clientAuth',
  );
}
