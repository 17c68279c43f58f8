import net from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import { tenantConflicts } from './tenant-conflicts.js';
import { BACKEND_KINDS, type BackendKind } from '../backends/kinds.js';

/** One codec worker per core. */
const DEFAULT_CODEC_THREADS = Math.max(1, os.availableParallelism());

/** "10GiB", "512 MB", "1048576" → bytes. */
export function parseByteSize(input: string | number): number {
  if (typeof input === 'number') return input;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(input);
  if (!m?.[1]) throw new Error(`"${input}" is not a size (examples: 512MiB, 10GiB, 1048576)`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const powers: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KIB: 2 ** 10,
    MIB: 2 ** 20,
    GIB: 2 ** 30,
    TIB: 2 ** 40,
  };
  const factor = powers[unit];
  if (factor === undefined) throw new Error(`unknown unit in "${input}"`);
  return Math.floor(Number(m[1]) * factor);
}

const byteSize = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  try {
    return parseByteSize(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** AE titles: 1–16 characters of the default repertoire, no backslash or control characters (PS3.5 §6.2). */
const aeTitle = z
  .string()
  .min(1)
  .max(16)
  .regex(/^[\x20-\x5b\x5d-\x7e]+$/, 'only printable ASCII without backslash')
  .refine((v) => v.trim().length > 0, 'must not be only spaces');
const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);
const ms = z.number().int().positive();

const tlsFiles = z
  .object({
    cert: z.string().min(1),
    key: z.string().min(1),
    ca: z.string().min(1).optional(),
    /** Ask the peer for a certificate and reject peers without a valid one (mutual TLS). */
    requireClientCert: z.boolean().default(false),
  })
  .strict();

/** The id of a credential (a signing key's kid, an API key, a client certificate): named in audit records. */
const credentialId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64');

/** A signing key for signed URLs and capabilities: an id, and a secret of at least 32 bytes, base64-encoded. */
const signingKey = z
  .object({
    kid: credentialId,
    secret: z
      .string()
      .refine(
        (v) => Buffer.from(v, 'base64').length >= 32,
        'must be at least 32 bytes, base64-encoded (openssl rand -base64 32)',
      ),
  })
  .strict();

const oauth = z
  .object({
    /** Expected `iss` of tokens. */
    issuer: z.string().min(1),
    /** Expected `aud` of tokens. */
    audience: z.string().min(1),
    /** The issuer's JWKS URL; or `keys`. */
    jwksUrl: z.string().url().optional(),
    /** Static public keys (PEM SPKI or JWK JSON) by kid. */
    keys: z.array(z.object({ kid: z.string().min(1), key: z.string().min(1) }).strict()).optional(),
    clockSkewSeconds: z.number().int().nonnegative().max(600).default(60),
    /** Token scopes that grant read (QIDO, WADO, rendered), write (STOW) and sign (minting signed URLs). */
    scopes: z
      .object({
        read: z.string().default('dicomweb.read'),
        write: z.string().default('dicomweb.write'),
        sign: z.string().default('dicomweb.sign'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((o) => !!o.jwksUrl !== !!o.keys?.length, { message: 'give exactly one of jwksUrl and keys' });

/** The rights a service credential grants (an OAuth token's scopes map to the same). */
const rights = z.array(z.enum(['read', 'write', 'sign'])).min(1);

/** A service credential (API key) as kept: only its SHA-256 (`dicomweb-gateway apikey create` prints both). */
const apiKey = z
  .object({
    id: credentialId,
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "the key's SHA-256 in hex (64 characters)"),
    scopes: rights,
    /** Refused by name from now on (kept so that its use is audited as a revoked key's). */
    revoked: z.boolean().default(false),
  })
  .strict();

/** A client certificate (mutual TLS on http.tls, verified against its ca) and the rights it grants. */
const clientCertificate = z
  .object({
    id: credentialId,
    fingerprint256: z
      .string()
      .regex(
        /^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/,
        'a SHA-256 fingerprint (openssl x509 -noout -fingerprint -sha256)',
      )
      .optional(),
    subjectCN: z.string().min(1).optional(),
    scopes: rights,
  })
  .strict()
  .refine((c) => !!c.fingerprint256 !== !!c.subjectCN, { message: 'give exactly one of fingerprint256 and subjectCN' });

export const authSchema = z
  .object({
    /** `required` (default): credentials on every DICOMweb request; `none`: open, for local use on loopback only. */
    mode: z.enum(['required', 'none']).default('required'),
    /** Keys for signed URLs and capabilities; several at once while keys rotate. */
    signingKeys: z.array(signingKey).default([]),
    /** Longest life of a signed URL or capability, whatever `expires` it carries (seconds). */
    maxSignedTtlSeconds: z
      .number()
      .int()
      .positive()
      .default(7 * 24 * 3600),
    oauth: oauth.optional(),
    /** Service credentials for machines, sent as `Authorization: Bearer dwgk.<id>.<secret>`. */
    apiKeys: z.array(apiKey).default([]),
    /** Client certificates that authenticate a machine over http.tls (its ca verifies them). */
    clientCertificates: z.array(clientCertificate).default([]),
  })
  .strict();

/** An IPv4/IPv6 address, or a CIDR range of them. */
const peerAddress = z.string().refine((v) => {
  const [address = '', prefix, extra] = v.split('/');
  const family = net.isIP(address);
  if (!family || extra !== undefined) return false;
  return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}, 'an IP address or a CIDR range such as 10.1.0.0/16');

/**
 * A browser origin as the Origin header carries it (RFC 6454 §6.1): scheme, host and port, nothing else. A
 * trailing slash is dropped (it would never match); a path or a query is refused.
 */
const corsOrigin = z
  .string()
  .url()
  .transform((v, ctx) => {
    const url = new URL(v);
    if (url.pathname !== '/' || url.search || url.hash || url.username) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not an origin: give scheme://host[:port] only, as browsers send it`,
      });
      return z.NEVER;
    }
    return url.origin;
  });

/** Our DICOM side: the Storage SCP that receives C-MOVE sub-operations, and the AE title we call from. */
const dimseSchema = z
  .object({
    aeTitle: aeTitle.default('DICOMWEB'),
    /** Default: 127.0.0.1 when HTTP listens on loopback, else 0.0.0.0. */
    host: host.optional(),
    port: port.default(11112),
    /** Run the Storage SCP. Default: unless the PACS retrieves by C-GET (nothing is sent to it then). */
    listen: z.boolean().optional(),
    /** Accept associations only from these calling AE titles (empty: any). A filter, not authentication. */
    allowedCallingAeTitles: z.array(aeTitle).default([]),
    /** Accept connections only from these addresses or CIDR ranges (empty: any). */
    allowedPeers: z.array(peerAddress).default([]),
    /** Maximum PDU length we announce (PS3.8 §D.1). */
    maxPduLength: z
      .number()
      .int()
      .min(4096)
      .max(16 * 1024 * 1024)
      .default(256 * 1024),
    maxAssociations: z.number().int().positive().default(32),
    artimTimeoutMs: ms.default(30_000),
    /** How long a new connection has to send its A-ASSOCIATE-RQ; it holds a slot meanwhile. */
    requestTimeoutMs: ms.default(5_000),
    /** Largest dataset of one C-STORE; beyond it the association is aborted and the partial file deleted. */
    maxDatasetBytes: byteSize.default(4 * 2 ** 30),
    /** No instance is started (A700 out of resources) while the cache's disk has less free space than this. */
    minFreeBytes: byteSize.default(2 ** 30),
    /** An open association on which the peer sends nothing for this long is aborted; it holds a slot. 0 = never. */
    idleTimeoutMs: z.number().int().min(0).default(60_000),
    tls: tlsFiles.optional(),
  })
  .strict();

/** The PACS behind a tenant. */
const pacsSchema = z
  .object({
    aeTitle: aeTitle.default('ORTHANC'),
    host: host.default('127.0.0.1'),
    port: port.default(4242),
    /** C-MOVE into our Storage SCP, C-GET, or `auto`: what the capability probe finds works (docs/conformance.md §3.2.1.4). */
    retrieve: z.enum(['move', 'get', 'auto']).default('move'),
    /** Probe the PACS once at start (negotiation and C-ECHO, no data): logged, and on the metrics listener's /admin/pacs. */
    probeAtStart: z.boolean().default(true),
    /** Associations to the PACS at once: per process, or for every replica together with `redis.url`. */
    maxAssociations: z.number().int().positive().max(64).default(8),
    /** Callers waiting for a free association beyond this get 503 at once. */
    queueLimit: z.number().int().nonnegative().default(64),
    /** How long a caller waits for a free association before 503. */
    queueTimeoutMs: ms.default(10_000),
    /** Idle associations are released after this long. */
    idleTimeoutMs: ms.default(30_000),
    connectTimeoutMs: ms.default(5_000),
    artimTimeoutMs: ms.default(10_000),
    /**
     * The longest a whole search may take — every C-FIND of its fan-out, from asking for an association to the last
     * match — before it is cancelled (C-CANCEL) and answered 504 naming the PACS.
     */
    searchTimeoutMs: ms.default(60_000),
    /** Longest wait for each DIMSE response (a C-FIND that sends nothing for this long fails with 504). */
    responseTimeoutMs: ms.default(30_000),
    /** A retrieval (C-MOVE/C-GET) with no arriving instance and no response for this long is cancelled (504). */
    retrieveTimeoutMs: ms.default(60_000),
    maxPduLength: z
      .number()
      .int()
      .min(4096)
      .max(16 * 1024 * 1024)
      .default(256 * 1024),
    /** Local address for outgoing associations. */
    localAddress: z.string().optional(),
    tls: z
      .object({
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
        servername: z.string().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * The embedded archive of a tenant (no PACS): instances under `dir/instances`, their index in `dir/index.sqlite`.
 * A SOP Instance UID stored again is kept as first archived (`keep`) or replaced by the new copy (`replace`).
 */
const archiveSchema = z
  .object({
    dir: z.string().min(1).default('./data/archive'),
    duplicates: z.enum(['keep', 'replace']).default('keep'),
  })
  .strict();

/** How warnings, metrics, logs and `/admin` name an archive of a federation. */
const memberName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
    '1–63 letters, digits, ".", "_" and "-", starting with a letter or digit',
  );

/** What every member of a federation has beside its archive's own keys. */
const memberKeys = {
  name: memberName,
  /** Lower answers first and wins a match two members hold; default: the member's place in the list. */
  priority: z.number().int().min(0).optional(),
};

/** A PACS of a federation: today's `pacs` keys, named. */
const pacsMemberSchema = pacsSchema.extend(memberKeys);

/** The embedded archive as a member of a federation: served first for what it holds, and where arrivals land. */
const archiveMemberSchema = z
  .object({ ...memberKeys, archive: archiveSchema, searchTimeoutMs: ms.default(60_000) })
  .strict();

/** One PACS, or several archives behind one tenant (a federation): PACS and at most one embedded archive. */
const pacsOrMembers = z.union([
  pacsSchema,
  z.array(z.union([archiveMemberSchema, pacsMemberSchema])).min(1, 'list at least one archive'),
]);

/** A tenant's STOW-RS target in a federation: the member's name (default: the embedded archive, else the first PACS). */
const stowTarget = memberName.optional();

/** The on-disk instance cache of a tenant. */
const cacheSchema = z
  .object({
    dir: z.string().min(1).default('./data/cache'),
    maxBytes: byteSize.default(10 * 2 ** 30),
  })
  .strict();

/**
 * Another tenant: its own PACS, its own Storage SCP (AE title and port the PACS sends C-MOVE sub-operations to),
 * its own credentials and its own cache directory, served under {basePath}/tenants/{id}.
 */
const tenantSchema = z
  .object({
    pacs: pacsOrMembers.optional(),
    stow: z.object({ target: stowTarget }).strict().optional(),
    archive: archiveSchema.optional(),
    dimse: dimseSchema.extend({ port }),
    auth: authSchema.prefault({}),
    cache: cacheSchema.extend({ dir: z.string().min(1) }),
  })
  .strict();

export const configSchema = z
  .object({
    http: z
      .object({
        host: host.default('0.0.0.0'),
        port: port.default(8080),
        basePath: z
          .string()
          .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'a path like /dicomweb, or empty')
          .default('/dicomweb'),
        /** Public origin used in RetrieveURL and BulkDataURI, e.g. https://pacs.example.org. Default: the request's Host. */
        publicUrl: z.string().url().optional(),
        /** HTTPS: certificate and key files; with `requireClientCert`, clients must present one signed by `ca`. */
        tls: tlsFiles.optional(),
        /**
         * Addresses (or CIDR ranges) of TLS-terminating proxies whose X-Forwarded-Proto/Host/For are believed; from
         * anywhere else those headers are ignored.
         */
        trustedProxies: z.array(peerAddress).default([]),
        /** Origins (scheme://host[:port]) browser viewers may call from (CORS); none by default. */
        corsOrigins: z.array(corsOrigin).default([]),
        /** Longest request header section, URL included, in bytes; beyond: 431. */
        maxHeaderBytes: z
          .number()
          .int()
          .min(1024)
          .max(1024 * 1024)
          .default(16 * 1024),
        /**
         * With `tls`: offer HTTP/2 by ALPN (RFC 9113 §3.2) beside HTTP/1.1. A browser opens at most 6 HTTP/1.1
         * connections to a host, and viewers ask one request per frame; over HTTP/2 they share one connection.
         */
        http2: z.boolean().default(true),
        /**
         * Without `tls`: HTTP/2 over cleartext with prior knowledge (RFC 9113 §3.3), for a TLS-terminating proxy that
         * speaks it (HAProxy `proto h2`, Envoy). HTTP/1.1 clients cannot connect to such a listener.
         */
        h2c: z.boolean().default(false),
      })
      .strict()
      .refine((h) => !(h.h2c && h.tls), {
        path: ['h2c'],
        message: 'h2c is HTTP/2 without TLS; with http.tls, HTTP/2 is offered by ALPN (http.http2)',
      })
      .prefault({}),

    dimse: dimseSchema.prefault({}),

    /**
     * A PACS behind the default tenant (DIMSE), or a list of archives searched and retrieved as one (each with a
     * `name`: PACS, and at most one `{ name, archive: { dir } }`); with neither `pacs` nor `archive`, the
     * embedded archive serves.
     */
    pacs: pacsOrMembers.optional(),

    archive: archiveSchema.optional(),

    cache: cacheSchema.prefault({}),

    qido: z
      .object({
        /** Matches returned when the request has no `limit`. */
        defaultLimit: z.number().int().positive().default(1000),
        /** Largest `limit` accepted; larger values are clamped with a 299 Warning. */
        maxLimit: z.number().int().positive().default(5000),
        /**
         * Response headers are held until offset+limit+1 matches are read or the C-FIND ends, so that a truncation
         * Warning can be sent; after this long the response starts streaming regardless.
         */
        headerHoldMs: z.number().int().nonnegative().default(1000),
        /** Studies searched at most when /series or /instances without a study fan out over studies. */
        maxFanOutStudies: z.number().int().positive().default(1000),
      })
      .strict()
      .prefault({}),

    wado: z
      .object({
        /** Binary values longer than this are BulkDataURIs in metadata (Pixel Data always is). */
        bulkDataThreshold: z.number().int().nonnegative().default(1024),
      })
      .strict()
      .prefault({}),

    stow: z
      .object({
        /** Largest STOW-RS request body; beyond it: 413 (each instance stored before then stays, whole). */
        maxBytes: byteSize.default(4 * 2 ** 30),
        /** In front of several archives: the member STOW-RS stores into (default: the embedded one, else the first PACS). */
        target: stowTarget,
      })
      .strict()
      .prefault({}),

    /** Several archives behind one tenant (`pacs` as a list). */
    federation: z
      .object({
        /** `/readyz` is ready when at least one member answers (`any`) or only when every member does (`all`). */
        readyWhen: z.enum(['any', 'all']).default('any'),
        /**
         * A member whose searches fail this many times in a row is skipped (with a Warning) for `backoffMs`, doubled
         * at each failed trial up to `maxBackoffMs`; one search after the back-off tries it again.
         */
        breaker: z
          .object({
            failures: z.number().int().positive().default(3),
            backoffMs: ms.default(10_000),
            maxBackoffMs: ms.default(300_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),

    render: z
      .object({
        /** JPEG quality when a request names none (PS3.18 §8.3.5.1.2 quality). */
        defaultQuality: z.number().int().min(1).max(100).default(90),
        /** Bytes of encoded rendered images and thumbnails kept in memory (LRU). */
        renderedCacheBytes: byteSize.default(256 * 2 ** 20),
        /** Bytes of decoded frames kept in memory (LRU), so that a new window or size does not decode again. */
        frameCacheBytes: byteSize.default(512 * 2 ** 20),
        /** Thumbnails fit in a square of this many pixels unless a viewport is given. */
        thumbnailSize: z.number().int().min(16).max(1024).default(128),
        /** Study/series thumbnails: the middle instance (and frame) of the first image series, or the first. */
        thumbnailChoice: z.enum(['middle', 'first']).default('middle'),
      })
      .strict()
      .prefault({}),

    audit: z
      .object({
        /** JSON lines of audit records: a file path (appended, mode 600, reopened on SIGHUP), or "stdout" / "-"; none by default. */
        file: z.string().min(1).optional(),
        /** A syslog collector (RFC 5424 over TCP, or TLS when `tls`). */
        syslog: z
          .object({
            host: host,
            port: port,
            tls: z.boolean().default(false),
            /** CA certificate file of the collector. */
            ca: z.string().min(1).optional(),
            appName: z.string().min(1).max(48).default('dicomweb-gateway'),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),

    limits: z
      .object({
        /** Requests that need the PACS, per client (token subject, else address) per window; 0: no limit. Beyond: 429. */
        clientRequests: z.number().int().nonnegative().default(1200),
        /** Requests that need the PACS, per tenant per window, all clients together; 0: no limit. */
        tenantRequests: z.number().int().nonnegative().default(12000),
        windowSeconds: z.number().int().positive().default(60),
      })
      .strict()
      .prefault({}),

    /**
     * What several replicas share (rate-limit counters, each PACS's association budget): with `url`, kept in that
     * Redis for every replica
     * naming it; without, in each process. The URL may carry a password (`redis://:secret@host:6379`): it is
     * never logged or printed.
     */
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\/./, 'a redis:// or rediss:// URL')
          .optional(),
        /** Prefix of every key the gateway writes, so that one Redis can serve several clusters. */
        keyPrefix: z.string().min(1).default('dicomweb-gateway:'),
        /** A command not answered in this time counts as Redis unreachable (the replica then counts alone). */
        commandTimeoutMs: ms.default(500),
      })
      .strict()
      .prefault({}),

    auth: authSchema.prefault({}),

    /** Further tenants by id; the top-level pacs, dimse, auth and cache are the default tenant at {basePath}. */
    tenants: z.record(z.string(), tenantSchema).default({}),

    codecs: z
      .object({
        /** Worker threads that decode and encode frames (JPEG 2000, JPEG-LS, …) off the event loop. */
        threads: z.number().int().positive().max(64).default(DEFAULT_CODEC_THREADS),
        /** Frames that may wait for a worker; beyond it a request gets 503 with Retry-After. */
        maxQueue: z.number().int().positive().default(256),
      })
      .strict()
      .prefault({}),

    ui: z
      .object({
        /** The study browser page, served by the gateway over its own DICOMweb API (the default tenant's). */
        enabled: z.boolean().default(true),
        /** Where the page is; its script and style are under `{path}_ui/`. */
        path: z
          .string()
          .regex(/^\/([A-Za-z0-9._~-]+\/?)*$/, 'a path like / or /browse')
          .default('/'),
      })
      .strict()
      .prefault({}),

    metrics: z
      .object({
        /** Prometheus metrics (GET /metrics) on a listener of their own, never the DICOMweb one. */
        enabled: z.boolean().default(false),
        host: host.default('127.0.0.1'),
        port: port.default(9464),
      })
      .strict()
      .prefault({}),

    tracing: z
      .object({
        /** OpenTelemetry spans of each request: none, to an OTLP/HTTP collector, or as JSON lines in the log (console). */
        exporter: z.enum(['none', 'otlp', 'console']).default('none'),
        /** The collector's OTLP/HTTP traces URL (default: the exporter's, from OTEL_EXPORTER_OTLP_* or localhost:4318). */
        endpoint: z.string().url().optional(),
      })
      .strict()
      .prefault({}),

    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        /**
         * Query values in request lines (`PatientName=doe*`); off: names only (`PatientName=…`), since a search's
         * values are patient data. Credentials (signature, capability, access_token) are never logged.
         */
        queryValues: z.boolean().default(false),
        /** One info line as each HTTP request comes in and one as it completes; associations and stores log regardless. */
        requests: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    // A PACS and the embedded archive together are a federation: the archive is then one of the `pacs` members.
    const both =
      'configure either pacs (a PACS behind the gateway) or archive (the embedded archive), not both; to use both, list the archive as a member of pacs: [{ name: local, archive: { dir } }, …]';
    // The page may not hide a DICOMweb or health route.
    const ui = config.ui.path.replace(/(.)\/+$/, '$1');
    const taken = [
      ...(config.http.basePath ? [config.http.basePath] : ['/studies', '/tenants', '/signed-urls']),
      '/healthz',
      '/readyz',
    ];
    if (config.ui.enabled && taken.some((t) => ui === t || ui.startsWith(`${t}/`)))
      ctx.addIssue({ code: 'custom', path: ['ui', 'path'], message: `must lie outside ${taken.join(', ')}` });
    const tenants: [(string | number)[], TenantInput, string | undefined][] = [
      [[], config, config.stow.target],
      ...Object.entries(config.tenants).map(([id, t]): [(string | number)[], TenantInput, string | undefined] => [
        ['tenants', id],
        t,
        t.stow?.target,
      ]),
    ];
    for (const [at, t, target] of tenants) {
      if (t.pacs && t.archive) ctx.addIssue({ code: 'custom', path: [...at, 'archive'], message: both });
      if (at.length > 0 && !t.pacs && !t.archive)
        ctx.addIssue({
          code: 'custom',
          path: at,
          message: 'a tenant needs pacs (a PACS behind the gateway) or archive (its own embedded archive)',
        });
      const members = Array.isArray(t.pacs) ? t.pacs : undefined;
      if (target !== undefined && !members?.some((m) => m.name === target))
        ctx.addIssue({
          code: 'custom',
          path: at.length ? [...at, 'stow', 'target'] : ['stow', 'target'],
          message: members
            ? `names no member of pacs (${members.map((m) => m.name).join(', ')})`
            : 'only a list of archives (pacs as a list) has members to choose from',
        });
      const seen = new Set<string>();
      for (const [i, m] of (members ?? []).entries()) {
        if (seen.has(m.name))
          ctx.addIssue({ code: 'custom', path: [...at, 'pacs', i, 'name'], message: `"${m.name}" is listed twice` });
        seen.add(m.name);
      }
      const archives = (members ?? []).flatMap((m, i) => ('archive' in m ? [i] : []));
      for (const i of archives.slice(1))
        ctx.addIssue({
          code: 'custom',
          path: [...at, 'pacs', i, 'archive'],
          message: 'a tenant has at most one embedded archive',
        });
    }
  })
  .transform((config) => {
    // Defaults that depend on other keys: a DICOM port no more open than the HTTP one; no SCP that nothing uses.
    const dimseHost = isLoopback(config.http.host) ? '127.0.0.1' : '0.0.0.0';
    // The back end: several archives when `pacs` is a list, the PACS when one is configured, else the embedded
    // archive (./data/archive by default).
    const resolve = <T extends TenantInput>(t: T, stowTarget: string | undefined) => {
      const listed = Array.isArray(t.pacs) ? t.pacs : undefined;
      const members: FederationMember[] = (listed ?? []).map((m, index) => {
        const { name, priority = index } = m;
        if ('archive' in m)
          return { kind: 'embedded', name, priority, searchTimeoutMs: m.searchTimeoutMs, archive: m.archive };
        const { name: _name, priority: _priority, ...pacs } = m;
        return { kind: 'dimse', name, priority, searchTimeoutMs: pacs.searchTimeoutMs, pacs };
      });
      const single = listed ? undefined : (t.pacs as PacsSettings | undefined);
      const backend: BackendKind = listed ? 'federated' : single && !t.archive ? 'dimse' : 'embedded';
      // A federation's PACS are its members'; its own archive, if it keeps one, is its embedded member's.
      const pacs = single ?? pacsSchema.parse({});
      const archive =
        members.flatMap((m) => ('archive' in m ? [m.archive] : []))[0] ?? t.archive ?? archiveSchema.parse({});
      return {
        ...t,
        backend,
        pacs,
        archive,
        members,
        stowTarget,
        // An archive needs its Storage SCP (modalities store into it); in front of a PACS, C-GET needs none.
        dimse: {
          ...t.dimse,
          host: t.dimse.host ?? dimseHost,
          listen: t.dimse.listen ?? BACKEND_KINDS[backend].storageScpByDefault({ pacs, members }),
        },
      };
    };
    return {
      ...resolve(config, config.stow.target),
      tenants: Object.fromEntries(
        Object.entries(config.tenants).map(([id, { stow, ...t }]) => [id, resolve(t, stow?.target)]),
      ),
    };
  })
  .superRefine((config, ctx) => {
    for (const problem of tenantConflicts(config))
      ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  });

/** Loopback names and addresses: listening there reaches this machine only. */
export const isLoopback = (hostName: string): boolean =>
  hostName === 'localhost' || hostName === '::1' || /^127\./.test(hostName);

export type GatewayConfig = z.infer<typeof configSchema>;

/** The settings of one PACS. */
export type PacsSettings = z.infer<typeof pacsSchema>;

/** One archive of a federation (`pacs` as a list), its defaults resolved. */
export type FederationMember = { name: string; priority: number; searchTimeoutMs: number } & (
  { kind: 'dimse'; pacs: PacsSettings } | { kind: 'embedded'; archive: z.infer<typeof archiveSchema> }
);

/** What the back-end resolution reads of a tenant as written. */
interface TenantInput {
  dimse: z.infer<typeof dimseSchema>;
  pacs?: z.infer<typeof pacsOrMembers> | undefined;
  archive?: z.infer<typeof archiveSchema> | undefined;
}
export type ConfigInput = z.input<typeof configSchema>;
