/**
 * The `server.metricsPath` endpoint: Prometheus text, optionally behind `server.metricsToken`
 * (`Authorization: Bearer <token>`, compared in constant time). Under --workers the text comes from
 * the primary, which merges every worker's numbers; otherwise from this relay's registry.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { RelayError } from '../errors.js';
import type { Exchange } from '../server/context.js';
import { sendError } from '../server/respond.js';

export interface MetricsSource {
  text(): Promise<string>;
  contentType: string;
}

export function metricsEndpoint(source: MetricsSource, token: () => string | undefined): (x: Exchange) => Promise<void> | void {
  return (x) => {
    const want = token();
    if (want && !bearerMatches(x.req.headers.authorization, want)) {
      sendError(x, new RelayError('unauthorized', 'metrics need Authorization: Bearer <metricsToken>', { headers: { 'www-authenticate': 'Bearer' } }));
      return;
    }
    if (x.method !== 'GET' && x.method !== 'HEAD') {
      sendError(x, new RelayError('method_not_allowed', `method ${x.method} is not allowed on the metrics endpoint`, { headers: { allow: 'GET, HEAD' } }));
      return;
    }
    return source.text().then(
      (text) => {
        if (x.res.destroyed) return;
        const len = Buffer.byteLength(text);
        x.status = 200;
        x.bytesOut += len;
        x.res.writeHead(200, {
          'content-type': source.contentType,
          'content-length': String(len),
          'cache-control': 'no-store',
          'x-request-id': x.requestId,
        });
        x.res.end(x.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        x.log.warn({ err: (err as Error).message }, 'metrics unavailable');
        if (!x.res.headersSent) sendError(x, new RelayError('internal_error', 'metrics are unavailable right now'));
      },
    );
  };
}

function bearerMatches(header: string | undefined, want: string): boolean {
  if (!header) return false;
  const m = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
  if (!m) return false;
  // Digests have equal length whatever was sent, so the comparison leaks nothing about the token.
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b);
}
