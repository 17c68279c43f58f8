import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { GatewayConfig } from './config/schema.js';
import { AssociationPool } from './dimse-bridge/association-pool.js';
import { DimseBackend } from './services/dimse-backend.js';
import { IMPLEMENTATION } from './dicom/uid.js';
import { pino } from 'pino';

/** The whole gateway: PACS connection pool, DICOMweb HTTP server (and, from issue 3 §2, the Storage SCP). */
export interface Gateway {
  app: FastifyInstance;
  /** HTTP address actually bound (port 0 resolves to a free port). */
  httpUrl: string;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig): Promise<Gateway> {
  const log = pino({ level: config.log.level });
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
    logger: log,
  });
  const backend = new DimseBackend(pool);
  const app = buildApp({ config, backend, loggerInstance: log });
  const address = await app.listen({ host: config.http.host, port: config.http.port });
  return {
    app,
    httpUrl: address,
    async close() {
      await app.close();
      await pool.close();
    },
  };
}
