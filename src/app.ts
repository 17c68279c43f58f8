import { STATUS_CODES } from 'node:http';
import { randomUUID } from 'node:crypto';
import { runInRequest } from './request-context.js';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { tracer } from './tracing/tracing.js';
import type { TlsOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions, type RouteOptions } from 'fastify';
import cors from '@fastify/cors';
import { httpTlsOptions } from './config/tls.js';
import { GatewayError, toGatewayError, Errors, withHeaders } from './errors.js';
import { registerQidoRoutes } from './routes/qido.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerWadoRoutes } from './routes/wado.js';
import { publicUrlResolver } from './routes/public-url.js';
import { authHook } from './auth/policy.js';
import { rateLimitHook } from './auth/rate-limit.js';
import { MemoryCounters } from './shared-state/memory-counters.js';
import type { WindowCounters } from './shared-state/window-counters.js';
import { registerAuditHooks } from './audit/audit-hook.js';
import type { Audit } from './audit/audit.js';
import { registerSignedUrlRoutes } from './routes/signed-urls.js';
import { registerRenderedRoutes } from './routes/rendered.js';
import { retrieveScope, warnNonConformantUids, type UidParams } from './routes/path-params.js';
import type { Archive } from './archive/archive.js';
import type { GatewayConfig } from './config/schema.js';
import type { AuthConfig } from './auth/from-config.js';
import type { AuthPolicy } from './auth/policy.js';
import type { QidoService } from './services/qido-service.js';
import type { WadoService } from './services/wado-service.js';
import type { RenderService } from './services/render-service.js';
import type { StowService } from './services/stow-service.js';
import { registerStowRoutes } from './routes/stow.js';
import { registerUiRoutes } from './routes/ui.js';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';
import { requestSerializer } from './log-redaction.js';

/** Errors whose message quotes a query value of the request (patient data, in a search). */
const QUOTES_QUERY_VALUES: ReadonlySet<string> = new Set([Errors.badParameter.code, Errors.badMatchValue.code]);

/** What the HTTP server itself is configured with; the rest of the configuration reaches the services. */
export interface HttpSettings {
  http: GatewayConfig['http'];
  limits: GatewayConfig['limits'];
  qido: Pick<GatewayConfig['qido'], 'defaultLimit' | 'maxLimit' | 'headerHoldMs'>;
  render: Pick<GatewayConfig['render'], 'defaultQuality'>;
  stow: GatewayConfig['stow'];
  ui: GatewayConfig['ui'];
  log: GatewayConfig['log'];
}

export const httpSettings = (config: GatewayConfig): HttpSettings => ({
  http: config.http,
  limits: config.limits,
  qido: config.qido,
  render: config.render,
  stow: config.stow,
  ui: config.ui,
  log: config.log,
});

/** What the HTTP side needs of a tenant: where it is served, its access policy and its services over its archive. */
export interface AppTenant {
  id: string;
  /** `{basePath}` for the default tenant, `{basePath}/tenants/{id}` for the others. */
  basePath: string;
  auth: AuthPolicy;
  /** The credentials signed URLs and capabilities are minted with. */
  signing: AuthConfig;
  /** Readiness, and whether a request costs a remote archive (rate limits). */
  archive: Pick<Archive, 'readiness' | 'holdsLocally'>;
  qido: QidoService;
  wado: WadoService;
  stow: StowService;
  render: RenderService;
}

export interface AppDependencies {
  settings: HttpSettings;
  /** The default tenant first (served at http.basePath), then the others (at {basePath}/tenants/{id}). */
  tenants: readonly AppTenant[];
  audit: Audit;
  /** Where each answered request is counted (metrics listener); absent: not counted. */
  metrics?: GatewayMetrics;
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  /** Told of every route as it is registered (test/conformance.test.ts holds them against the documents). */
  onRoute?: (route: RouteOptions) => void;
  /** Where rate limits count (Redis with `redis.url`: for the cluster); absent: in this process. */
  counters?: WindowCounters;
}

/**
 * The HTTP side: routes under `http.basePath`, health endpoints at the root, and the one error handler that
 * turns every GatewayError (and anything else) into a JSON body with the right status.
 */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const { settings } = deps;
  const counters = deps.counters ?? new MemoryCounters();
  const config = settings;
  const app = Fastify({
    ...(deps.loggerInstance
      ? { loggerInstance: deps.loggerInstance }
      : {
          logger: deps.logger ?? {
            level: settings.log.level,
            serializers: { req: requestSerializer(settings.log.queryValues) },
          },
        }),
    // "incoming request" / "request completed" lines, which the operator may turn down (log.requests).
    logController: new LogController({ disableRequestLogging: !settings.log.requests }),
    ...listenerOptions(
      config.http,
      httpTlsOptions(
        settings,
        deps.tenants.some((t) => t.auth.clientCertificates.length > 0),
      ),
    ),
    // X-Forwarded-Proto/Host/For only from the configured proxies: request.protocol/host/ip, and so every URL the
    // gateway writes (RetrieveURL, BulkDataURI, signed URLs), follow what the client saw.
    trustProxy: config.http.trustedProxies.length ? config.http.trustedProxies : false,
    routerOptions: { maxParamLength: 200 },
    // Requests Node refuses before Fastify sees them (431 header overflow, unparseable HTTP) get the gateway's
    // JSON error shape too.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const e =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? Errors.headersTooLarge(config.http.maxHeaderBytes)
          : Errors.badRequest(err.code ?? err.message);
      const body = JSON.stringify(e.toBody());
      socket.end(
        `HTTP/1.1 ${e.statusCode} ${STATUS_CODES[e.statusCode] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    requestTimeout: 0,
    bodyLimit: 1024 * 1024,
    // Unique across restarts and replicas, unlike Fastify's counter.
    genReqId: () => randomUUID(),
  }) as unknown as FastifyInstance;

  if (config.http.h2c || (config.http.tls && config.http.http2)) {
    // Node's HTTP/2 takes header lists up to 64 KiB whatever SETTINGS say: the bound is ours to hold.
    const max = config.http.maxHeaderBytes;
    app.addHook('onRequest', async (request) => {
      if (request.raw.httpVersionMajor === 2 && headerListSize(request.raw.rawHeaders) > max)
        throw Errors.headersTooLarge(max);
    });
  }

  // Each request runs in a context of its own (request-context.ts): the lines its DIMSE work logs carry its id,
  // which the response names (X-Request-Id) for a user to quote.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    // Its span (OpenTelemetry; a no-op unless tracing is on) is the parent of the DIMSE and render spans it causes.
    const span = tracer().startSpan(`${request.method} ${request.routeOptions.url ?? 'unmatched'}`, {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': request.method,
        'http.route': request.routeOptions.url ?? 'unmatched',
        'dicomweb_gateway.request_id': request.id,
      },
    });
    reply.raw.once('close', () => {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(context.active(), span), () => runInRequest(request.id, done));
  });
  if (deps.onRoute) app.addHook('onRoute', deps.onRoute);

  const { metrics } = deps;
  if (metrics) {
    // By route pattern (`/studies/:study/series`), never the URL: one series per route, whatever the UIDs.
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeHttp(
        request.routeOptions.url ?? 'unmatched',
        request.method,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
    });
  }

  if (config.http.corsOrigins.length) {
    // Browser viewers on these origins only (nothing is open by default); preflights answered before auth.
    void app.register(cors, {
      origin: config.http.corsOrigins,
      methods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Accept', 'Accept-Language', 'Content-Type', 'If-None-Match', 'Range'],
      exposedHeaders: [
        'ETag',
        'Warning',
        'Content-Location',
        'Content-Range',
        'WWW-Authenticate',
        'Retry-After',
        'X-Request-Id',
      ],
      maxAge: 600,
    });
  }

  app.setErrorHandler((error, request, reply) => {
    const fastifyStatus = (error as { statusCode?: number }).statusCode;
    const gatewayError =
      error instanceof GatewayError || fastifyStatus === undefined || fastifyStatus >= 500
        ? toGatewayError(error)
        : fastifyClientError(fastifyStatus, (error as Error).message);
    if (gatewayError.statusCode >= 500)
      request.log.error({ err: error, code: gatewayError.code }, gatewayError.message);
    else if (settings.log.queryValues || !QUOTES_QUERY_VALUES.has(gatewayError.code))
      request.log.info({ code: gatewayError.code }, gatewayError.message);
    // Such a message repeats what the search asked for (a name, a birth date): its code says enough.
    else
      request.log.info(
        { code: gatewayError.code },
        'a query parameter was refused (its value is not logged: log.queryValues)',
      );
    if (reply.sent || reply.raw.headersSent) return;
    void reply
      .status(gatewayError.statusCode)
      .headers(gatewayError.headers)
      .type('application/json; charset=utf-8')
      .send(gatewayError.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const e = Errors.notFound(`no resource at ${request.method} ${request.url.split('?')[0] ?? ''}`);
    void reply.status(404).type('application/json; charset=utf-8').send(e.toBody());
  });

  const [defaultTenant] = deps.tenants;
  if (!defaultTenant) throw new Error('no tenant to serve');
  registerHealthRoutes(
    app,
    deps.tenants.map((t) => ({ id: t.id, archive: t.archive })),
  );
  if (settings.ui.enabled)
    registerUiRoutes(app, {
      path: settings.ui.path,
      basePath: defaultTenant.basePath,
      authRequired: defaultTenant.auth.mode === 'required',
    });

  for (const tenant of deps.tenants) {
    void app.register(
      async (scoped) => registerTenantRoutes(scoped, tenant, { settings, audit: deps.audit, counters }),
      {
        prefix: tenant.basePath,
      },
    );
  }
  return app;
}

/**
 * HTTP/1.1; HTTPS with HTTP/2 offered by ALPN beside HTTP/1.1 (`http.http2`, the default with TLS); or cleartext
 * HTTP/2 with prior knowledge (`http.h2c`). Streaming and backpressure are the same on each: an HTTP/2 stream's
 * flow-control window stands where the socket's buffer does.
 */
function listenerOptions(http: HttpSettings['http'], tls: TlsOptions | undefined): Record<string, unknown> {
  // Node answers 431 beyond this many header bytes (the URL counts): a bound on query strings too. Over HTTP/2 an
  // onRequest hook holds the same bound (buildApp), so that the client gets a 431 too, not a reset stream.
  const http1 = { maxHeaderSize: http.maxHeaderBytes };
  // An HTTP/2 client keeps its session open; closing the server ends them (GOAWAY, streams in flight finish).
  const http2 = { http2: true, forceCloseConnections: true };
  if (tls && http.http2) return { ...http2, https: { ...tls, ...http1, allowHTTP1: true } };
  if (tls) return { https: { ...tls, ...http1 } };
  if (http.h2c) return http2;
  return { http: http1 };
}

/** The size of a header list as HTTP/2 counts it (RFC 9113 §6.5.2): each field's name and value, plus 32 octets. */
function headerListSize(rawHeaders: readonly string[]): number {
  let size = 0;
  for (const field of rawHeaders) size += Buffer.byteLength(field) + 16; // names and values alternate: 2 × 16
  return size;
}

/** A 4xx Fastify decided (a body too large, a content type it cannot parse…) as one of our coded errors. */
function fastifyClientError(status: number, message: string): GatewayError {
  if (status === 413) return Errors.payloadTooLarge(message);
  if (status === 415) return Errors.unsupportedMediaType(message);
  const e = Errors.badRequest(message);
  return new GatewayError(e.code, status, e.message);
}

/** A retrieval route's request the gateway answers alone; a path whose UIDs do not parse gets 400, not the PACS. */
function holdsRequestedScope(archive: AppTenant['archive'], params: UidParams): boolean {
  try {
    return archive.holdsLocally(retrieveScope(params));
  } catch {
    return true;
  }
}

/**
 * One tenant's DICOMweb service under its base path. Hooks are scoped to it (Fastify encapsulation): its own
 * credentials, its own rate-limit counters and its own services — so nothing of one tenant answers for another.
 */
function registerTenantRoutes(
  scoped: FastifyInstance,
  tenant: AppTenant,
  shared: { settings: HttpSettings; audit: Audit; counters: WindowCounters },
): void {
  const config = shared.settings;
  const { id, basePath } = tenant;
  const publicUrl = publicUrlResolver(config.http.publicUrl, basePath);
  const methodsByPath = collectMethods(scoped);
  // Before any route: a refused request never reaches the PACS, the cache or a decoder.
  registerAuditHooks(scoped, shared.audit, { basePath, tenant: id });
  scoped.addHook('onRequest', authHook(tenant.auth));
  // After authentication, so that a client is counted by its token's subject.
  scoped.addHook(
    'preHandler',
    rateLimitHook(
      shared.counters,
      { requests: config.limits.clientRequests, windowSeconds: config.limits.windowSeconds },
      { requests: config.limits.tenantRequests, windowSeconds: config.limits.windowSeconds },
      id,
      (request) => holdsRequestedScope(tenant.archive, request.params as UidParams),
    ),
  );
  scoped.addHook('preHandler', warnNonConformantUids);
  registerQidoRoutes(scoped, {
    service: tenant.qido,
    limits: { defaultLimit: config.qido.defaultLimit, maxLimit: config.qido.maxLimit },
    headerHoldMs: config.qido.headerHoldMs,
    publicUrl,
  });
  registerWadoRoutes(scoped, { service: tenant.wado, publicUrl });
  registerStowRoutes(scoped, { service: tenant.stow, publicUrl, maxBytes: config.stow.maxBytes });
  registerRenderedRoutes(scoped, { service: tenant.render, publicUrl, defaultQuality: config.render.defaultQuality });
  registerSignedUrlRoutes(scoped, { auth: tenant.signing, scope: tenant.auth.scope, publicUrl });
  registerMethodNotAllowed(scoped, methodsByPath);
}

const OTHER_METHODS = ['DELETE', 'PATCH', 'POST', 'PUT'] as const;

/** The methods of every route registered on `app` from now on, by path (as registered, without the prefix). */
function collectMethods(app: FastifyInstance): Map<string, Set<string>> {
  const byPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = byPath.get(route.routePath) ?? new Set<string>();
    for (const m of [route.method].flat()) methods.add(m);
    byPath.set(route.routePath, methods);
  });
  return byPath;
}

/** A method a resource does not have answers 405 with `Allow` (RFC 9110 §15.5.6), not 404. */
function registerMethodNotAllowed(app: FastifyInstance, byPath: ReadonlyMap<string, ReadonlySet<string>>): void {
  const routes = [...byPath];
  void app.register(async (refusing) => {
    // Whatever the body's type: the method is what is wrong (405), not the media type (415).
    refusing.addContentTypeParser('*', (_request, _payload, done) => done(null));
    for (const [path, methods] of routes) {
      const missing = OTHER_METHODS.filter((m) => !methods.has(m));
      if (!missing.length) continue;
      const allow = [...methods].sort().join(', ');
      refusing.route({
        method: missing,
        url: path,
        config: { refusesMethod: true },
        handler: async (request) => {
          throw withHeaders(Errors.methodNotAllowed(request.method, request.url.split('?')[0] ?? '', allow), { allow });
        },
      });
    }
  });
}
