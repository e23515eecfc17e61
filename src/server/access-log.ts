/** One log line per exchange (spec §4 step 12). Query secrets (`key=`) are redacted. */
import { redactQuery } from '../log/redact.js';
import type { Exchange } from './context.js';

export function logAccess(x: Exchange): void {
  const now = performance.now();
  const fields = {
    req_id: x.requestId,
    method: x.method,
    path: x.query ? x.path + redactQuery(x.query) : x.path,
    route: x.route?.name,
    status: x.status,
    dur_ms: round(now - x.start),
    upstream_ms: x.upstreamHeadersAt ? round(x.upstreamHeadersAt - x.upstreamStart) : undefined,
    bytes_in: x.bytesIn,
    bytes_out: x.bytesOut,
    client: x.client,
    ip: x.ip,
    outcome: x.outcome,
  };
  const msg = `${x.method} ${fields.path} ${x.status}`;
  if (x.status >= 500 || x.outcome) x.log.warn(fields, msg);
  // Health checks and metric scrapes arrive every few seconds: keep them out of the info log.
  else if (x.route === undefined && x.status < 400) x.log.debug(fields, msg);
  else x.log.info(fields, msg);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
