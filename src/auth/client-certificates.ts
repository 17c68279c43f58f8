import type { Right } from './bearer.js';

/**
 * Client certificates (mutual TLS on the HTTP listener) mapped to rights: a machine that already holds a
 * certificate from the hospital's CA needs no other credential. Only a certificate the TLS layer verified
 * against `http.tls.ca` is considered; it is matched by its SHA-256 fingerprint or by its subject's CN.
 */
export interface ClientCertificateEntry {
  id: string;
  /** `AB:CD:…` as `openssl x509 -fingerprint -sha256` prints it (case and colons do not matter). */
  fingerprint256?: string | undefined;
  /** The subject's common name. */
  subjectCN?: string | undefined;
  scopes: readonly Right[];
}

/** What the TLS layer says of the client's certificate. */
export interface PeerCertificate {
  /** Verified against the listener's CA. */
  authorized: boolean;
  fingerprint256: string;
  subjectCN?: string | undefined;
}

const normalise = (fingerprint: string): string => fingerprint.replace(/:/g, '').toUpperCase();

/** The entry a verified certificate matches, if any. */
export function matchClientCertificate(
  entries: readonly ClientCertificateEntry[],
  peer: PeerCertificate | undefined,
): ClientCertificateEntry | undefined {
  if (!peer?.authorized) return undefined;
  return entries.find(
    (e) =>
      (e.fingerprint256 !== undefined && normalise(e.fingerprint256) === normalise(peer.fingerprint256)) ||
      (e.subjectCN !== undefined && e.subjectCN === peer.subjectCN),
  );
}

/** The verified client certificate of a connection (HTTPS, or HTTP/2 over TLS), if one was presented. */
export function peerCertificateOf(socket: unknown): PeerCertificate | undefined {
  const tls = socket as
    | {
        authorized?: boolean;
        getPeerCertificate?: () => { fingerprint256?: string; subject?: { CN?: string | string[] } };
      }
    | undefined;
  if (typeof tls?.getPeerCertificate !== 'function') return undefined;
  const cert = tls.getPeerCertificate();
  if (!cert?.fingerprint256) return undefined;
  const cn = cert.subject?.CN;
  return {
    authorized: tls.authorized === true,
    fingerprint256: cert.fingerprint256,
    subjectCN: Array.isArray(cn) ? cn[0] : cn,
  };
}
