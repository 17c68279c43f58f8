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

/** TLS options for the Storage SCP; mutual authentication when `requireClientCert`. */
export function scpTlsOptions(config: Pick<GatewayConfig, 'dimse'>): tls.TlsOptions | undefined {
  const t = config.dimse.tls;
  if (!t) return undefined;
  return {
    cert: readFileSync(t.cert),
    key: readFileSync(t.key),
    ...(t.ca ? { ca: readFileSync(t.ca) } : {}),
    requestCert: t.requireClientCert,
    rejectUnauthorized: t.requireClientCert,
  };
}

/** HTTPS options for the HTTP listener (http.tls); client certificates required when `requireClientCert`. */
export function httpTlsOptions(config: GatewayConfig): tls.TlsOptions | undefined {
  const t = config.http.tls;
  if (!t) return undefined;
  return {
    cert: readFileSync(t.cert),
    key: readFileSync(t.key),
    ...(t.ca ? { ca: readFileSync(t.ca) } : {}),
    requestCert: t.requireClientCert,
    rejectUnauthorized: t.requireClientCert,
    minVersion: 'TLSv1.2',
  };
}
