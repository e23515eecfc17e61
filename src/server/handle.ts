/**
 * The request handler: accept → id → base path → health/ready → path safety → route → CORS →
 * disabled → method → origin policy → auth → rate limit → forward. It is the one catch-all
 * boundary: nothing a client sends can throw past it.
 */
import type { Logger } from '../log/logger.js';
import { RelayError } from '../errors.js';
import { clientIp } from '../net/client-ip.js';
import { matchRoute, stripBase } from '../routing/match.js';
import { splitTarget, unsafePathReason } from '../routing/path.js';
import type { CompiledRoute, RouteTable } from '../routing/table.js';
import { forward, limitBody } from '../upstream/forward.js';
import { upstreamRequestHeaders } from '../upstream/headers.js';
import { logAccess } from './access-log.js';
import type { AnyRequest, AnyResponse, ClientRequest, ClientResponse, Exchange } from './context.js';
import { requestIdFor } from './request-id.js';
import { sendError, sendJson } from './respond.js';
import { rateLimitKey, type RateResult } from '../policy/rate-limit.js';

export interface RelayState {
  table: RouteTable;
  phase: 'starting' | 'ready' | 'draining';
  active: number;
  version: string;
  startedAt: number;
  log: Logger;
  /** Optional endpoint handlers (metrics), looked up after health/ready. */
  extraEndpoints?: Map<string, (x: Exchange) => void | Promise<void>>;
  /** Called once per exchange right after it is accepted (in-flight tracking, drain). */
  onExchangeStart?: (x: Exchange) => void;
  onExchangeDone?: (x: Exchange) => void;
  /** Readiness detail: why an enabled route is unhealthy (e.g. its token source is failing). */
  routeProblem?: (r: CompiledRoute) => string | undefined;
  onIdle?: () => void;
  /**
   * Requests the relay serves outside the exchange pipeline (the dashboard): returns true when it
   * took the request. Such requests get no access line, metrics, rate limit or budget. Unset
   * (the default) costs one property check per request.
   */
  intercept?: (req: AnyRequest, res: AnyResponse) => boolean;
}

const hooks = {
  sendError,
  done: (x: Exchange) => {
    const state = (x as Exchange & { state: RelayState }).state;
    state.active--;
    logAccess(x);
    state.onExchangeDone?.(x);
    if (state.active === 0) state.onIdle?.();
  },
};

export function createHandler(state: RelayState): (req: AnyRequest, res: AnyResponse) => void {
  return (rawReq, rawRes) => {
    if (state.intercept !== undefined && state.intercept(rawReq, rawRes)) return;
    const req = rawReq as ClientRequest;
    const res = rawRes as ClientResponse;
    const table = state.table; // in-flight exchanges keep the table they started with
    const requestId = requestIdFor(req.headers['x-request-id']);
    const x: Exchange & { state: RelayState } = {
      req,
      res,
      table,
      route: undefined,
      requestId,
      start: performance.now(),
      upstreamStart: 0,
      upstreamHeadersAt: 0,
      method: req.method ?? 'GET',
      path: '',
      query: '',
      base: '',
      routePath: '',
      ip: clientIp(req.socket?.remoteAddress, req.headers['x-forwarded-for'], table.trustProxy),
      client: undefined,
      relayHeaders: { 'x-request-id': requestId },
      bytesIn: 0,
      bytesOut: 0,
      status: 0,
      outcome: undefined,
      log: state.log,
      state,
    };
    state.active++;
    state.onExchangeStart?.(x);
    try {
      route(x, state);
    } catch (err) {
      // A bug must cost one request, never the process.
      state.log.error({ err, req_id: requestId }, 'unexpected error while handling a request');
      if (!res.headersSent) sendError(x, new RelayError('internal_error', 'internal relay error'));
      else res.destroy();
      hooks.done(x);
    }
  };
}

function reject(x: Exchange, err: RelayError): void {
  sendError(x, err);
  hooks.done(x);
}

function route(x: Exchange & { state: RelayState }, state: RelayState): void {
  const { req, table } = x;
  const target = splitTarget(req.url ?? '/');
  if (!target) return reject(x, new RelayError('bad_request', 'malformed request target'));
  x.path = target.path;
  x.query = target.query;
  const bad = unsafePathReason(target.path);
  if (bad) return reject(x, new RelayError('bad_request', `refused path: ${bad}`));
  const sb = stripBase(target.path, table.bases);
  if (!sb) return reject(x, new RelayError('no_route', `no route for ${target.path}`));
  x.base = sb.base;
  const rest = sb.rest;
  x.routePath = rest;

  if (rest === table.healthPath) return endpoint(x, () => health(x, state));
  if (rest === table.readyPath) return endpoint(x, () => ready(x, state));
  const extra = state.extraEndpoints?.get(rest);
  if (extra) return endpoint(x, () => extra(x));

  const r = matchRoute(rest, table.routes);
  if (!r) return reject(x, new RelayError('no_route', `no route for ${rest}`));
  x.route = r;
  const origin = req.headers.origin;

  // Preflight: answered here, needs no token, never reaches upstream.
  if (x.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
    if (!r.cors || !r.cors.allows(origin)) return reject(x, new RelayError('forbidden', `origin ${origin} is not allowed on route ${r.name}`));
    const h = r.cors.preflightHeaders(origin, req.headers['access-control-request-headers'] as string | undefined);
    x.status = 204;
    x.res.writeHead(204, { ...h, vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers', 'x-request-id': x.requestId, 'content-length': '0' });
    x.res.end();
    return hooks.done(x);
  }
  if (origin !== undefined) {
    if (r.cors?.allows(origin)) Object.assign(x.relayHeaders, r.cors.responseHeaders(origin));
    else if (!r.disabledReason) return reject(x, new RelayError('forbidden', `origin ${origin} is not allowed on route ${r.name}`));
  }
  // Disabled routes answer before token checks: it may be the token variable that is missing.
  if (r.disabledReason) return reject(x, new RelayError('route_disabled', `route ${r.name} is disabled: ${r.disabledReason}`));
  if (r.methods && !r.methods.has(x.method)) {
    return reject(x, new RelayError('method_not_allowed', `method ${x.method} is not allowed on route ${r.name}`, { headers: { allow: r.allowHeader } }));
  }
  const auth = r.auth.check(req.headers);
  if (auth instanceof RelayError) return reject(x, auth);
  if (auth) x.client = auth.client;

  if (r.rateLimit) {
    const key = rateLimitKey(r.rateLimit.by, x.client, x.ip);
    const result = r.rateLimit.limiter.consume(key);
    if (result instanceof Promise) {
      result.then(
        (rr) => afterLimit(x, r, rr, auth?.via),
        (err) => {
          x.log.warn({ err }, 'rate limiter failed; letting the request through');
          proceed(x, r, auth?.via);
        },
      );
      return;
    }
    return afterLimit(x, r, result, auth?.via);
  }
  proceed(x, r, auth?.via);
}

function afterLimit(x: Exchange, r: CompiledRoute, rr: RateResult, via: string | undefined): void {
  x.relayHeaders['ratelimit-limit'] = String(rr.limit);
  x.relayHeaders['ratelimit-remaining'] = String(rr.remaining);
  x.relayHeaders['ratelimit-reset'] = String(rr.resetSeconds);
  if (!rr.allowed) {
    return reject(x, new RelayError('rate_limited', `rate limit of route ${r.name} exceeded; retry in ${rr.retryAfterSeconds}s`, { headers: { 'retry-after': String(rr.retryAfterSeconds) } }));
  }
  if (x.res.destroyed) return hooks.done(x);
  proceed(x, r, via);
}

function proceed(x: Exchange, r: CompiledRoute, via: string | undefined): void {
  const { req, table } = x;
  const cl = req.headers['content-length'];
  let body: import('node:stream').Readable | null = null;
  if (cl !== undefined) {
    const n = Number(cl);
    if (n > table.maxBodySize) return reject(x, new RelayError('body_too_large', `request body of ${n} bytes exceeds maxBodySize (${table.maxBodySize} bytes)`));
    x.bytesIn = n;
    if (n > 0) body = req;
  } else if (req.headers['transfer-encoding'] !== undefined || (req.httpVersionMajor === 2 && !req.readableEnded && x.method !== 'GET' && x.method !== 'HEAD')) {
    body = limitBody(req, table.maxBodySize, (err) => {
      x.outcome = err.message;
      if (!x.res.headersSent) sendError(x, err);
    }, (n) => (x.bytesIn += n));
  }
  const rest = x.routePath;
  const tail = r.stripPrefix ? (r.prefix === '/' ? rest : rest.slice(r.prefix.length)) : rest;
  // Joined as strings after the safety check: never new URL(clientPath, base).
  const upstreamPath = (r.upstreamPath + tail || '/') + x.query;
  const fwd = r.forwardClientIp || r.forwardPrefix
    ? {
        clientIp: x.ip,
        proto: (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http',
        host: (req.headers.host ?? req.headers[':authority']) as string | undefined,
        priorXff: table.trustProxy ? (req.headers['x-forwarded-for'] as string | undefined) : undefined,
        prefix: r.forwardPrefix ? x.base + (r.prefix === '/' ? '' : r.prefix) : undefined,
      }
    : undefined;
  let headers;
  try {
    headers = upstreamRequestHeaders(req.headers, r.headerPlan, via, fwd, x.requestId);
  } catch (err) {
    return reject(x, new RelayError('bad_request', `invalid request header: ${(err as Error).message}`));
  }
  const accept = req.headers.accept;
  const wantsSse = typeof accept === 'string' && accept.includes('text/event-stream');
  // Keep the body in memory only where it buys something: a replay on a fresh key/token, or
  // seeing `"stream": true` for an early SSE start. Bounded; larger bodies stream as usual.
  const keep = Math.max(r.credentials?.replayLimit ?? 0, r.heartbeat && isJson(req.headers['content-type']) ? SNIFF_LIMIT : 0);
  if (body === req && x.bytesIn <= keep) {
    collect(req, (buf) => {
      if (!buf) return hooks.done(x); // the client went away while uploading
      const wantsStream = wantsSse || (r.heartbeat > 0 && STREAM_TRUE.test(buf.toString('latin1')));
      forward(x, { method: x.method, path: upstreamPath, headers, body: buf, wantsStream }, hooks);
    });
    return;
  }
  forward(x, { method: x.method, path: upstreamPath, headers, body, wantsStream: wantsSse }, hooks);
}

const SNIFF_LIMIT = 1024 * 1024;
const STREAM_TRUE = /"stream"\s*:\s*true/;

function isJson(ct: string | undefined): boolean {
  return typeof ct === 'string' && ct.includes('json');
}

function collect(req: ClientRequest, cb: (buf: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let done = false;
  req.on('data', (c: Buffer) => chunks.push(c));
  req.once('end', () => {
    if (!done) cb(Buffer.concat(chunks));
    done = true;
  });
  const gone = () => {
    if (!done) cb(undefined);
    done = true;
  };
  req.once('error', gone);
  req.once('close', gone);
}

function endpoint(x: Exchange, fn: () => void | Promise<void>): void {
  const p = fn();
  if (!p) return hooks.done(x);
  // Asynchronous endpoints (metrics under --workers ask the primary) finish when they answered.
  p.then(
    () => hooks.done(x),
    (err: unknown) => {
      x.log.error({ err, req_id: x.requestId }, 'endpoint failed');
      if (!x.res.headersSent) sendError(x, new RelayError('internal_error', 'internal relay error'));
      hooks.done(x);
    },
  );
}

function health(x: Exchange, state: RelayState): void {
  const routes = state.table.routes;
  sendJson(x, 200, {
    status: 'ok',
    version: state.version,
    routes: routes.filter((r) => !r.disabledReason).length,
    disabled: routes.filter((r) => r.disabledReason).map((r) => r.name),
    uptime: Math.round((Date.now() - state.startedAt) / 1000),
  });
}

function ready(x: Exchange, state: RelayState): void {
  const ok = state.phase === 'ready';
  sendJson(x, ok ? 200 : 503, {
    status: state.phase,
    routes: state.table.routes.map((r) => {
      if (r.disabledReason) return { name: r.name, state: 'disabled', reason: r.disabledReason, ...(r.disabled ? { missing: r.disabled } : {}) };
      const problem = state.routeProblem?.(r) ?? r.credentials?.problem();
      return problem ? { name: r.name, state: 'failing', problem } : { name: r.name, state: 'ok' };
    }),
  });
}
