/**
 * Egress errors: ordinary Error objects with a Node/undici-style `code`, so the dispatcher's
 * retry logic and error mapping treat them like any other connect failure, and a message that
 * names the egress (credentials already stripped by the caller).
 */
export type EgressErrorCode =
  | 'ERR_EGRESS_INVALID'
  | 'ERR_EGRESS_PROXY_STATUS'
  | 'ERR_EGRESS_PROXY_PROTOCOL'
  | 'ERR_EGRESS_SOCKS'
  | 'ERR_EGRESS_CLOSED'
  | 'ECONNRESET'
  | 'UND_ERR_CONNECT_TIMEOUT'
  | (string & {});

export interface EgressError extends Error {
  code: EgressErrorCode;
  /** Credential-free egress description, when the error came from a proxied connect. */
  egress?: string;
  /** The proxy's HTTP status for ERR_EGRESS_PROXY_STATUS. */
  statusCode?: number;
}

export function egressError(code: EgressErrorCode, message: string, extra: { cause?: unknown; egress?: string; statusCode?: number } = {}): EgressError {
  const err = new Error(message, extra.cause === undefined ? undefined : { cause: extra.cause }) as EgressError;
  err.code = code;
  if (extra.egress !== undefined) err.egress = extra.egress;
  if (extra.statusCode !== undefined) err.statusCode = extra.statusCode;
  return err;
}

/**
 * Re-labels a lower-level failure (ECONNREFUSED to the proxy, a TLS error through the tunnel)
 * so its message says which egress was used, keeping the original `code` for retry decisions.
 */
export function viaEgress(err: unknown, describe: string): EgressError {
  const e = err as Partial<EgressError> & { message?: string };
  if (e && typeof e === 'object' && e.egress === describe) return e as EgressError;
  const code = (e && typeof e.code === 'string' && e.code) || 'ECONNRESET';
  const msg = e && typeof e.message === 'string' && e.message ? e.message : String(err);
  return egressError(code, `via egress ${describe}: ${msg}`, { cause: err, egress: describe });
}
