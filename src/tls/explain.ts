/**
 * Plain words for upstream TLS failures. OpenSSL's codes (UNABLE_TO_GET_ISSUER_CERT_LOCALLY…)
 * are accurate but say nothing about the fix; the fix is almost always one config key.
 */

const ADD_CA = "add the issuer's CA certificate (PEM) to the route's tls.ca";

const BY_CODE: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: `the upstream's certificate is signed by an issuer the relay does not trust (or the upstream sends an incomplete chain); ${ADD_CA}`,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: `the upstream's certificate was issued by a CA the relay does not trust (GigaChat: the Russian Trusted Root CA); ${ADD_CA}`,
  UNABLE_TO_GET_ISSUER_CERT: `the upstream's certificate chain names an issuer the relay does not have; ${ADD_CA}`,
  SELF_SIGNED_CERT_IN_CHAIN: `the upstream's certificate chain ends in a root the relay does not trust; add that root (PEM) to the route's tls.ca`,
  DEPTH_ZERO_SELF_SIGNED_CERT: `the upstream uses a self-signed certificate; add that certificate (PEM) to the route's tls.ca`,
  CERT_HAS_EXPIRED: "the upstream's TLS certificate has expired (or the relay machine's clock is wrong)",
  CERT_NOT_YET_VALID: "the upstream's TLS certificate is not valid yet; check the relay machine's clock",
  CERT_REVOKED: "the upstream's TLS certificate has been revoked",
  CERT_UNTRUSTED: `the upstream's certificate is not trusted for TLS; ${ADD_CA}`,
  CERT_SIGNATURE_FAILURE: "the upstream's certificate signature is invalid (a broken chain or an intercepting proxy)",
  INVALID_CA: "a CA in the upstream's chain is not a valid CA certificate",
  ERR_SSL_WRONG_VERSION_NUMBER: 'the upstream did not answer with TLS; is it plain http://, or the wrong port?',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: "the upstream requires a client certificate; set the route's tls.cert and tls.key",
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: "TLS handshake refused by the upstream: no common protocol or cipher, or it wants a client certificate (tls.cert/tls.key)",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "the upstream does not trust the relay's client certificate (tls.cert)",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "the upstream rejected the relay's client certificate (tls.cert)",
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'the upstream supports no TLS version the relay offers (TLS 1.2 or newer)',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'the upstream supports no TLS version the relay offers (TLS 1.2 or newer)',
};

interface TlsLikeError {
  code?: unknown;
  reason?: unknown;
  message?: unknown;
  cause?: unknown;
}

/** A sentence explaining a TLS failure (looking through `cause` chains), or undefined when it is not one. */
export function explainTlsError(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e && typeof e === 'object'; depth++, e = (e as TlsLikeError).cause) {
    const text = explainOne(e as TlsLikeError);
    if (text) return text;
  }
  return undefined;
}

function explainOne(e: TlsLikeError): string | undefined {
  const code = typeof e.code === 'string' ? e.code : '';
  const known = BY_CODE[code];
  if (known) return known;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason = typeof e.reason === 'string' ? ` (${e.reason})` : '';
    return `the upstream's certificate is not valid for the host name the relay connected to${reason}; fix the upstream URL, or set tls.servername to a name the certificate covers`;
  }
  if (code.startsWith('ERR_SSL_')) return `TLS handshake with the upstream failed (${code})`;
  const message = typeof e.message === 'string' ? e.message : '';
  if (message.includes('before secure TLS connection was established')) {
    return 'the upstream closed the connection during the TLS handshake (wrong port, a middlebox, or a client certificate is required)';
  }
  return undefined;
}
