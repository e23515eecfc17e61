/**
 * Maps failures talking to an upstream onto the relay's error vocabulary, in one place, by code
 * (spec §5, §10 "Error types"). Messages name the upstream and the egress (no credentials).
 */
import { RelayError } from '../errors.js';
import { formatDuration } from '../config/units.js';
import { explainTlsError } from '../tls/explain.js';

export interface UpstreamErrorContext {
  upstream: string;
  egress: string;
  firstByteTimeout: number;
  idleTimeout: number;
  timeout: number;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Errors where nothing reached the upstream: safe to retry for any method. */
export const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export function errorCode(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string } };
  return e?.code ?? e?.cause?.code ?? 'UNKNOWN';
}

export function mapUpstreamError(err: unknown, ctx: UpstreamErrorContext): RelayError {
  if (err instanceof RelayError) return err;
  const code = errorCode(err);
  const via = ctx.egress === 'direct' ? '' : ` via egress ${ctx.egress}`;
  const who = `upstream ${ctx.upstream}${via}`;
  const own = (err as { egress?: string }).egress;
  const raw = (err as Error)?.message ?? String(err);
  // Egress errors already say "via egress X: …"; the prefix above says it once.
  const reason = own ? raw.replace(`via egress ${own}: `, '') : raw;
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new RelayError('upstream_timeout', `${who} sent no response headers within ${formatDuration(ctx.firstByteTimeout)} (firstByteTimeout)`, { cause: err });
    case 'UND_ERR_BODY_TIMEOUT':
    case 'RELAY_IDLE_TIMEOUT':
      return new RelayError('upstream_timeout', `${who} was idle for ${formatDuration(ctx.idleTimeout)} (idleTimeout)`, { cause: err });
    case 'RELAY_TOTAL_TIMEOUT':
      return new RelayError('upstream_timeout', `${who} did not finish within ${formatDuration(ctx.timeout)} (timeout)`, { cause: err });
  }
  const tls = explainTlsError(err);
  if (tls) return new RelayError('upstream_unreachable', `${who}: TLS failure: ${tls}`, { cause: err });
  if (UNREACHABLE.has(code) || code.startsWith('ERR_EGRESS') || code.startsWith('ERR_SOCKS') || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL')) {
    return new RelayError('upstream_unreachable', `${who} is unreachable: ${own ? reason : describeCode(code, reason)}`, { cause: err });
  }
  return new RelayError('upstream_error', `${who} failed: ${reason}`, { cause: err });
}

function describeCode(code: string, reason: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
      return 'host name not found (DNS)';
    case 'EAI_AGAIN':
      return 'DNS lookup timed out';
    case 'ECONNRESET':
      return 'connection reset';
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connect timed out';
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'connection closed before the response';
    default:
      return reason;
  }
}
