import { readFileSync } from 'node:fs';
import type tls from 'node:tls';
import type { GatewayConfig } from './schema.js';

/** TLS options for associations to the PACS (PS3.15 Annex B), read once at start-up. */
export function pacsTlsOptions(config: Pick<GatewayConfig, 'pacs'>): tls.ConnectionOptions | undefined {
  const t = config.pacs.tls;
  if (!t) return undefined;
  return {
    ...(t.ca ? { ca: readFileSync(t.ca) } : {}),
    ...(t.cert ? { cert: readFileSync(t.cert) } : {}),
    ...(t.key ? { key: readFileSync(t.key) } : {}),
    ...(t.servername ? { servername: t.servername } : {}),
    rejectUnauthorized: true,
  };
}

/** Certificate, key and optional CA of a TLS listener; `requireClientCert` asks for and verifies client certificates. */
function listenerTls(
  t: { cert: string; key: string; ca?: string | undefined; requireClientCert: boolean },
  askClientCert = false,
): tls.TlsOptions {
  return {
    cert: readFileSync(t.cert),
    key: readFileSync(t.key),
    ...(t.ca ? { ca: readFileSync(t.ca) } : {}),
    // Asked for (not required) when certificates are one credential among others (auth.clientCertificates).
    requestCert: t.requireClientCert || askClientCert,
    rejectUnauthorized: t.requireClientCert,
    // TLS 1.2 or later (BCP 195, as the PS3.15 Annex B secure transport profiles require).
    minVersion: 'TLSv1.2',
  };
}

/** TLS options for the Storage SCP; mutual authentication when `requireClientCert`. */
export function scpTlsOptions(config: Pick<GatewayConfig, 'dimse'>): tls.TlsOptions | undefined {
  return config.dimse.tls ? listenerTls(config.dimse.tls) : undefined;
}

/**
 * HTTPS options for the HTTP listener (http.tls); client certificates required when `requireClientCert`, asked
 * for when `askClientCert` (some tenant maps certificates to rights).
 */
export function httpTlsOptions(config: Pick<GatewayConfig, 'http'>, askClientCert = false): tls.TlsOptions | undefined {
  return config.http.tls ? listenerTls(config.http.tls, askClientCert) : undefined;
}
