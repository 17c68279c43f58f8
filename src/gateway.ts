import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { GatewayConfig } from './config/schema.js';
import { AssociationPool } from './dimse-bridge/association-pool.js';
import { DimseBackend } from './services/dimse-backend.js';
import { IMPLEMENTATION } from './dicom/uid.js';
import { pino } from 'pino';
import { ConfigError } from './config/load.js';
import { authConfigProblem, authPolicy } from './auth/from-config.js';
import { pacsTlsOptions, scpTlsOptions } from './config/tls.js';
import { StorageScp } from './dimse-bridge/storage-scp.js';
import { InstanceStore } from './cache/instance-store.js';
import { InstanceCache } from './cache/instance-cache.js';
import { RetrieveService } from './services/retrieve-service.js';
import { CodecPool } from './codecs/codec-pool.js';
import { RenderService } from './services/render-service.js';
import { StudyCatalog } from './services/study-catalog.js';
import { auditFromConfig } from './audit/audit.js';

/** The whole gateway: PACS connection pool, DICOMweb HTTP server and the embedded Storage SCP. */
export interface Gateway {
  app: FastifyInstance;
  storageScp: StorageScp;
  retrieve: RetrieveService;
  render: RenderService;
  cache: InstanceCache;
  /** HTTP address actually bound (port 0 resolves to a free port). */
  httpUrl: string;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Serve without credentials on a non-loopback address (`serve --insecure`). */
  allowInsecure?: boolean;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

export async function startGateway(config: GatewayConfig, start: StartOptions = {}): Promise<Gateway> {
  const problem = authConfigProblem(config.auth);
  if (problem) throw new ConfigError(problem);
  if (config.auth.mode === 'none' && !isLoopback(config.http.host) && !start.allowInsecure) {
    throw new ConfigError(`auth.mode is "none" but HTTP listens on ${config.http.host}: anyone who can reach it would read the archive. Configure auth, listen on 127.0.0.1, or start with --insecure`);
  }
  const log = pino({ level: config.log.level });
  if (config.auth.mode === 'none') log.warn({ host: config.http.host }, 'auth.mode is "none": every DICOMweb request is served without credentials');
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
  const backend = new DimseBackend(pool, { retrieve: config.pacs.retrieve, moveDestination: config.dimse.aeTitle, cancelGraceMs: Math.min(config.pacs.retrieveTimeoutMs, 5000) });
  const store = new InstanceStore(config.cache.dir);
  const cache = new InstanceCache(store, config.cache.maxBytes, log);
  await cache.open();
  const storageScp = new StorageScp({
    aeTitle: config.dimse.aeTitle,
    host: config.dimse.host,
    port: config.dimse.port,
    allowedCallingAeTitles: config.dimse.allowedCallingAeTitles,
    maxAssociations: config.dimse.maxAssociations,
    maxPduLength: config.dimse.maxPduLength,
    artimTimeoutMs: config.dimse.artimTimeoutMs,
    idleTimeoutMs: config.dimse.idleTimeoutMs,
    implementation: IMPLEMENTATION,
    store,
    ...(scpTls ? { tls: scpTls } : {}),
    logger: log,
  });
  await storageScp.listen();
  const retrieve = new RetrieveService(backend, cache, store, {
    idleTimeoutMs: config.pacs.retrieveTimeoutMs,
    storageScp: { aeTitle: config.dimse.aeTitle, host: config.dimse.host, port: storageScp.port },
    logger: log,
  });
  // The mediator: every instance the Storage SCP has made durable goes to the requests waiting for it.
  storageScp.on('stored', (event) => retrieve.onStored(event));
  const codecs = new CodecPool({ threads: config.codecs.threads, maxQueue: config.codecs.maxQueue });
  const render = new RenderService(retrieve, new StudyCatalog(backend), codecs, {
    renderedCacheBytes: config.render.renderedCacheBytes,
    frameCacheBytes: config.render.frameCacheBytes,
    thumbnail: { size: config.render.thumbnailSize, choice: config.render.thumbnailChoice },
    logger: log,
  });
  const audit = auditFromConfig(config.audit);
  const app = buildApp({ config, backend, retrieve, codecs, render, auth: authPolicy(config.auth), audit, loggerInstance: log });
  let address: string;
  try {
    address = await app.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await storageScp.close();
    await codecs.close();
    throw err;
  }
  return {
    app,
    storageScp,
    retrieve,
    render,
    cache,
    httpUrl: address,
    async close() {
      await app.close();
      await storageScp.close();
      await pool.close();
      await store.close();
      await codecs.close();
      await audit.close();
    },
  };
}
