import { readFileSync } from 'node:fs';
import { Association, type RequestOptions } from '../../src/dimse-bridge/association.js';
import { DimseClient } from '../../src/dimse-bridge/dimse-client.js';
import { metaEnd, metaOf } from './variants.js';
import { IMPLEMENTATION } from '../../src/dicom/uid.js';

/** Opens an association for a test with our implementation identity and short, test-sized timeouts. */
export function testAssociation(
  options: Pick<RequestOptions, 'port' | 'calledAeTitle' | 'presentationContexts'> & Partial<RequestOptions>,
): Promise<Association> {
  return Association.request({
    host: '127.0.0.1',
    callingAeTitle: 'DWGTEST',
    implementation: IMPLEMENTATION,
    maxPduLength: 65536,
    timeouts: { connectMs: 2000, artimMs: 2000 },
    ...options,
  });
}

/**
 * C-STOREs a Part 10 file to a Storage SCP with the gateway's own SCU: for transfer syntaxes DCMTK 3.6.7 does not
 * know (HTJ2K), which its storescu refuses to send. Resolves with the C-STORE status.
 */
export async function storeWithOurScu(port: number, calledAeTitle: string, file: string): Promise<number> {
  const bytes = readFileSync(file);
  const meta = metaOf(bytes);
  const association = await testAssociation({
    port,
    calledAeTitle,
    callingAeTitle: 'STORESCU',
    presentationContexts: [{ abstractSyntax: meta.sopClassUid, transferSyntaxes: [meta.transferSyntax] }],
    maxPduLength: 16384,
  });
  try {
    return await new DimseClient(association, { responseTimeoutMs: 5000 }).store(
      meta.sopClassUid,
      meta.sopInstanceUid,
      meta.transferSyntax,
      bytes.subarray(metaEnd(bytes)),
    );
  } finally {
    await association.release();
  }
}
