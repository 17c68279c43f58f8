import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { GatewayConfig } from './config/schema.js';
import { AssociationPool } from './dimse-bridge/association-pool.js';
import { DimseBackend } from './services/dimse-backend.js';
import { IMPLEMENTATION } from './dicom/uid.js';
import { pino } from 'pino';
import { pacsTlsOptions, scpTlsOptions } from './config/tls.js';
import { StorageScp } from './dimse-bridge/storage-scp.js';
import { InstanceStore } from './cache/instance-store.js';

/** The whole gateway: PACS connection pool, DICOMweb HTTP server and the embedded Storage SCP. */
export interface Gateway {
  app: FastifyInstance;
  storageScp: StorageScp;
  /** HTTP address actually bound (port 0 resolves to a free port). */
  httpUrl: string;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig): Promise<Gateway> {
  const log = pino({ level: config.log.level });
  const pacsTls = pacsTlsOptions(config);
  const scpTls = scpTlsOptions(config);
  const pool = new AssociationPool({
    peer: { host: config.pacs.host, port: config.pacs.port, aeTitle: config.pacs.aeTitle },
    callingAeTitle: config.dimse.aeTitle,
    maxAssociations: config.pacs.maxAssociations,
    queueLimit: config.pacs.queueLimit,
    queueTimeoutMs: config.pacs.queueTimeoutMs,
    idleTimeoutMs: config.pacs.idleTimeoutMs,
    connectTimeoutMs: config.pacs.connectTimeoutMs,
    artimTimeoutMs: config.pacs.artimTimeoutMs,
    responseTimeoutMs: config.pacs.responseTimeoutMs,
    maxPduLength: config.pacs.maxPduLength,
    implementation: IMPLEMENTATION,
    ...(config.pacs.localAddress ? { localAddress: config.pacs.localAddress } : {}),
    ...(pacsTls ? { tls: pacsTls } : {}),
    logger: log,
  });
  const backend = new DimseBackend(pool);
  const app = buildApp({ config, backend, loggerInstance: log });
  const storageScp = new StorageScp({
    aeTitle: config.dimse.aeTitle,
    host: config.dimse.host,
    port: config.dimse.port,
    allowedCallingAeTitles: config.dimse.allowedCallingAeTitles,
    maxAssociations: config.dimse.maxAssociations,
    maxPduLength: config.dimse.maxPduLength,
    artimTimeoutMs: config.dimse.artimTimeoutMs,
    implementation: IMPLEMENTATION,
    store: new InstanceStore(config.cache.dir),
    ...(scpTls ? { tls: scpTls } : {}),
    logger: log,
  });
  await storageScp.listen();
  let address: string;
  try {
    address = await app.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await storageScp.close();
    throw err;
  }
  return {
    app,
    storageScp,
    httpUrl: address,
    async close() {
      await app.close();
      await storageScp.close();
      await pool.close();
    },
  };
}
