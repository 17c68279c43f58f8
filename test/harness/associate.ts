import { Association, type RequestOptions } from '../../src/dimse-bridge/association.js';
import { IMPLEMENTATION } from '../../src/dicom/uid.js';

/** Opens an association for a test with our implementation identity and short, test-sized timeouts. */
export function testAssociation(options: Pick<RequestOptions, 'port' | 'calledAeTitle' | 'presentationContexts'> & Partial<RequestOptions>): Promise<Association> {
  return Association.request({
    host: '127.0.0.1',
    callingAeTitle: 'DWGTEST',
    implementation: IMPLEMENTATION,
    maxPduLength: 65536,
    timeouts: { connectMs: 2000, artimMs: 2000 },
    ...options,
  });
}
