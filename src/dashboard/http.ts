/**
 * How every dashboard answer is written: the security headers of spec §14 on each one (errors
 * included), no CORS headers ever, and errors in the §5 envelope.
 */
import { errorBody, type RelayError } from '../errors.js';
import type { AnyResponse, ClientResponse } from '../server/context.js';

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: the page's own POSTs then carry its real Origin (checked).
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

export function send(res: AnyResponse, status: number, headers: Record<string, string>, body: string | Buffer | undefined, head = false): void {
  const r = res as ClientResponse;
  if (r.headersSent || r.destroyed) return;
  const out: Record<string, string> = { ...SECURITY_HEADERS, ...headers };
  if (body !== undefined) out['content-length'] = String(Buffer.byteLength(body));
  r.writeHead(status, out);
  r.end(head ? undefined : body);
}

export function sendDashError(res: AnyResponse, err: RelayError, requestId: string, extra: Record<string, string> = {}): void {
  send(res, err.status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': requestId, ...err.headers, ...extra }, errorBody(err, undefined, requestId));
}
