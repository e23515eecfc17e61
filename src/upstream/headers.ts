/**
 * Header rewriting, both directions. Pure functions over plain objects, table-tested.
 * Order (request side): drop hop-by-hop and Connection-listed → drop client-address headers →
 * drop the relay token → apply route `remove` → `set` → credentials (by the caller) → forwarded.
 */
import type { IncomingHttpHeaders } from 'node:http';

export type OutHeaders = Record<string, string | string[]>;

/** RFC 9110 §7.6.1 hop-by-hop headers, plus ones undici refuses or that must not cross the relay. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  // Not hop-by-hop, but handled by the relay itself: the upstream Host comes from the upstream
  // URL (a client Host must never choose it), and Node answered `Expect: 100-continue` already.
  'host',
  'expect',
]);

/** Headers that reveal the end user's address or location (spec §4 step 7). */
const CLIENT_ADDRESS = new Set(['forwarded', 'x-real-ip', 'true-client-ip', 'x-client-ip', 'x-cluster-client-ip', 'fastly-client-ip', 'via']);

function isClientAddressHeader(name: string): boolean {
  return CLIENT_ADDRESS.has(name) || name.startsWith('x-forwarded-') || name.startsWith('cf-');
}

/** Names listed in a Connection header value (lowercased). */
export function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  // Nearly every message says just one of these (upstreams answer `keep-alive` on every response).
  if (!value || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return undefined;
  const v = Array.isArray(value) ? value.join(',') : value;
  let out: Set<string> | undefined;
  for (const part of v.split(',')) {
    const n = part.trim().toLowerCase();
    if (n && n !== 'close' && n !== 'keep-alive') (out ??= new Set()).add(n);
  }
  return out;
}

export interface RequestHeaderPlan {
  /** Lowercased names removed by the route. */
  remove: ReadonlySet<string>;
  /** Lowercased name → value set by the route (already interpolated). */
  set: ReadonlyArray<readonly [string, string]>;
  forwardClientIp: boolean;
}

export interface ForwardedInfo {
  clientIp: string;
  proto: string;
  host: string | undefined;
  /** Client-supplied X-Forwarded-For, kept only when trustProxy (spec §10). */
  priorXff: string | undefined;
  prefix: string | undefined;
}

/**
 * Builds upstream request headers from the client's. `dropName` is the header that carried the
 * relay token (removed so it never travels upstream).
 */
export function upstreamRequestHeaders(
  inHeaders: IncomingHttpHeaders,
  plan: RequestHeaderPlan,
  dropName: string | undefined,
  fwd: ForwardedInfo | undefined,
  requestId: string,
): OutHeaders {
  const out: OutHeaders = {};
  const listed = connectionListed(inHeaders.connection);
  for (const name in inHeaders) {
    const value = inHeaders[name];
    if (value === undefined) continue;
    if (name.charCodeAt(0) === 58 /* ':' h2 pseudo-header */) continue;
    if (HOP_BY_HOP.has(name) || isClientAddressHeader(name)) continue;
    if (name === dropName || name === 'x-proxy-token') continue;
    if (listed?.has(name) || plan.remove.has(name)) continue;
    out[name] = value;
  }
  for (const [k, v] of plan.set) out[k] = v;
  out['x-request-id'] = requestId;
  if (fwd) {
    if (plan.forwardClientIp) {
      out['x-forwarded-for'] = fwd.priorXff ? `${fwd.priorXff}, ${fwd.clientIp}` : fwd.clientIp;
      out['x-forwarded-proto'] = fwd.proto;
      if (fwd.host) out['x-forwarded-host'] = fwd.host;
    }
    if (fwd.prefix !== undefined) out['x-forwarded-prefix'] = fwd.prefix;
  }
  return out;
}

/** Response headers the relay never passes on. CORS headers are replaced by the relay's own. */
const RESPONSE_DROP = new Set([...HOP_BY_HOP, 'set-cookie', 'alt-svc']);

export interface LocationRewrite {
  /** Upstream origin + base path, e.g. https://api.example.com/v1 (no trailing slash). */
  upstreamBase: string;
  /** Upstream base path only, e.g. /v1 ('' for the root). */
  upstreamPath: string;
  /** What the client used: base path + route prefix (+ nothing when stripPrefix is false). */
  publicBase: string;
}

export function downstreamResponseHeaders(inHeaders: Record<string, string | string[]>, loc: LocationRewrite): OutHeaders {
  const out: OutHeaders = {};
  const listed = connectionListed(inHeaders.connection);
  for (const name of Object.keys(inHeaders)) {
    const value = inHeaders[name]!;
    if (RESPONSE_DROP.has(name) || listed?.has(name) || name === '__proto__') continue;
    if (name.startsWith('access-control-')) continue;
    if (name === 'location' || name === 'content-location') {
      out[name] = typeof value === 'string' ? rewriteLocation(value, loc) : value;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** Rewrites absolute self-links under the upstream (and root-relative ones under its path). */
export function rewriteLocation(value: string, loc: LocationRewrite): string {
  if (value.startsWith(loc.upstreamBase) && isBoundary(value, loc.upstreamBase.length)) {
    return loc.publicBase + ensureSlash(value.slice(loc.upstreamBase.length));
  }
  if (value.charCodeAt(0) === 47 && value.charCodeAt(1) !== 47) {
    if (loc.upstreamPath === '') return loc.publicBase + value;
    if (value.startsWith(loc.upstreamPath) && isBoundary(value, loc.upstreamPath.length)) {
      return loc.publicBase + ensureSlash(value.slice(loc.upstreamPath.length));
    }
  }
  return value;
}

function isBoundary(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return Number.isNaN(c) || c === 47 || c === 63 || c === 35;
}

function ensureSlash(rest: string): string {
  return rest === '' || rest.charCodeAt(0) !== 47 ? (rest === '' ? '' : rest.charCodeAt(0) === 63 || rest.charCodeAt(0) === 35 ? rest : '/' + rest) : rest;
}
