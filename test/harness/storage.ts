import { StorageScp, type StoredEvent, type StoreDestination } from '../../src/dimse-bridge/storage-scp.js';
import { InstanceStore } from '../../src/cache/instance-store.js';
import { receiveInstance } from '../../src/cache/instance-receiver.js';
import { IMPLEMENTATION } from '../../src/dicom/uid.js';
import { metaEnd, metaOf } from './variants.js';
import { readFileSync } from 'node:fs';

/** A destination that admits every C-STORE and records what was stored: the SCP as a storage component alone. */
export function admitAll(): StoreDestination & { stored: StoredEvent[] } {
  const stored: StoredEvent[] = [];
  return {
    stored,
    admitStore: () => ({
      stored: (e) => {
        stored.push(e);
      },
    }),
  };
}

/** A bare Storage SCP on a free loopback port writing into `dir`. */
export async function startStorageScp(
  dir: string,
  options: Partial<ConstructorParameters<typeof StorageScp>[0]> = {},
): Promise<{ scp: StorageScp; store: InstanceStore; stored: StoredEvent[] }> {
  const store = new InstanceStore(dir);
  const destination = admitAll();
  const scp = new StorageScp({
    aeTitle: 'DICOMWEB',
    host: '127.0.0.1',
    port: 0,
    allowedCallingAeTitles: [],
    maxAssociations: 8,
    maxPduLength: 65536,
    artimTimeoutMs: 2000,
    idleTimeoutMs: 0,
    implementation: IMPLEMENTATION,
    store,
    destination,
    ...options,
  });
  await scp.listen();
  return { scp, store, stored: destination.stored };
}

/**
 * Puts Part 10 files into a gateway cache directory before the gateway starts (it indexes what it finds): for
 * syntaxes no test PACS can send (HTJ2K predates Orthanc 1.10 and DCMTK 3.6.7).
 */
export async function seedCache(dir: string, files: readonly string[]): Promise<void> {
  const store = new InstanceStore(dir);
  await store.init();
  for (const file of files) {
    const bytes = readFileSync(file);
    const meta = metaOf(bytes);
    const receiver = receiveInstance(store, {
      sopClassUid: meta.sopClassUid,
      sopInstanceUid: meta.sopInstanceUid,
      transferSyntaxUid: meta.transferSyntax,
      sourceAeTitle: 'SEED',
    });
    await receiver.write(bytes.subarray(metaEnd(bytes)));
    const outcome = await receiver.finish();
    if (!('stored' in outcome)) throw new Error(`could not seed ${file}: ${outcome.comment}`);
  }
  await store.close();
}
