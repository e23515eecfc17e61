/**
 * The request handler: accept → id → base path → health/ready → path safety → route → CORS →
 * disabled → method → origin policy → auth → rate limit → budget → forward. It is the one catch-all
 * boundary: nothing a client sends can throw past it.
 */
import type { Logger } from '../log/logger.js';
import { RelayError } from '../errors.js';
import { clientIp } from '../net/client-ip.js';
import { matchRoute, stripBase } from '../routing/match.js';
import { splitTarget, unsafePathReason } from '../routing/path.js';
import type { CompiledRoute, RouteTable } from '../routing/table.js';
import type { Readable } from 'node:stream';
import { forward, limitBody, type ForwardHandle, type ForwardTap } from '../upstream/forward.js';
import { throughCache } from '../cache/serve.js';
import { upstreamRequestHeaders } from '../upstream/headers.js';
import { logAccess } from './access-log.js';
import type { AnyRequest, AnyResponse, ClientRequest, ClientResponse, Exchange } from './context.js';
import { requestIdFor } from './request-id.js';
import { guardUpload, type UploadGuard } from './upload-guard.js';
import { sendError, sendJson } from './respond.js';
import { rateLimitKey, type RateResult } from '../policy/rate-limit.js';
import type { AuthOutcome } from '../policy/auth.js';
import { budgetGate, type Prepared } from './budget-gate.js';
import { collect, type Collecting } from './collect.js';
import { settleBudget } from './settle.js';
import { usageEndpoint } from './usage-endpoint.js';

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
    // Once per exchange, whichever path ended it first: with the upload guard, the cache and the
    // budget gate all reading bodies, a stall can end an exchange while a reader still holds it.
    if (x.ended) return;
    x.ended = true;
    const state = (x as Exchange & { state: RelayState }).state;
    state.active--;
    if (x.budget) settleBudget(x);
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
      user: undefined,
      usage: undefined,
      budget: undefined,
      cache: undefined,
      relayHeaders: { 'x-request-id': requestId },
      bytesIn: 0,
      bytesOut: 0,
      ended: false,
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
  if (rest === table.usagePath && table.budgets) return endpoint(x, () => usageEndpoint(x, table.budgets!));
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
  // png-to-jpeg whose image library failed to load after the relay started: refused before it
  // reaches upstream, where an image would be generated (and paid for) only to go unconverted.
  if (r.transformProblem !== undefined) {
    const problem = r.transformProblem();
    if (problem) return reject(x, new RelayError('route_disabled', `route ${r.name} is disabled: ${problem}`));
  }
  if (r.methods && !r.methods.has(x.method)) {
    return reject(x, new RelayError('method_not_allowed', `method ${x.method} is not allowed on route ${r.name}`, { headers: { allow: r.allowHeader } }));
  }
  const auth = r.auth.check(req.headers);
  if (auth instanceof Promise) {
    // A JWT being verified (the key set may be fetched): the rest of the flow runs when it is done.
    auth.then(
      (a) => guarded(x, () => {
        if (x.res.destroyed) return hooks.done(x); // the client left meanwhile
        afterAuth(x, r, a);
      }),
      (err: unknown) => guarded(x, () => {
        throw err;
      }),
    );
    return;
  }
  afterAuth(x, r, auth);
}

/** The catch-all boundary for the parts of the flow that run after an await. */
function guarded(x: Exchange, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    x.log.error({ err, req_id: x.requestId }, 'unexpected error while handling a request');
    if (!x.res.headersSent) sendError(x, new RelayError('internal_error', 'internal relay error'));
    else x.res.destroy();
    hooks.done(x);
  }
}

function afterAuth(x: Exchange, r: CompiledRoute, auth: AuthOutcome | undefined): void {
  if (auth instanceof RelayError) return reject(x, auth);
  if (auth) {
    x.client = auth.client;
    x.user = auth.user;
  }

  if (r.rateLimit) {
    const key = rateLimitKey(r.rateLimit.by, x.client, x.ip, x.user);
    const result = r.rateLimit.limiter.consume(key);
    if (result instanceof Promise) {
      result.then(
        (rr) => afterLimit(x, r, rr, auth?.via),
        (err) => {
          x.log.warn({ err }, 'rate limiter failed; letting the request through');
          admit(x, r, auth?.via);
        },
      );
      return;
    }
    return afterLimit(x, r, result, auth?.via);
  }
  admit(x, r, auth?.via);
}

function afterLimit(x: Exchange, r: CompiledRoute, rr: RateResult, via: string | undefined): void {
  x.relayHeaders['ratelimit-limit'] = String(rr.limit);
  x.relayHeaders['ratelimit-remaining'] = String(rr.remaining);
  x.relayHeaders['ratelimit-reset'] = String(rr.resetSeconds);
  if (!rr.allowed) {
    return reject(x, new RelayError('rate_limited', `rate limit of route ${r.name} exceeded; retry in ${rr.retryAfterSeconds}s`, { headers: { 'retry-after': String(rr.retryAfterSeconds) } }));
  }
  if (x.res.destroyed) return hooks.done(x);
  admit(x, r, via);
}

/** The request body of an exchange, and who to tell when its upload stalls (upload-guard.ts). */
interface Upload {
  hasBody: boolean;
  chunked: boolean;
  guard: UploadGuard | undefined;
  /** Set once the exchange is forwarded: a stall then aborts the upstream request. */
  forwarding: ForwardHandle | undefined;
  /** Set while the body is read into memory: a stall then answers 408 here. */
  collecting: Collecting | undefined;
}

/** Where the request goes upstream, with the headers it goes with. */
interface Upstream {
  path: string;
  headers: ReturnType<typeof upstreamRequestHeaders>;
}

/**
 * After auth and the rate limit: the size check, then the route's idleTimeout/timeout watch the
 * upload from here on (the cache's and the budget gate's reads of the body as well as
 * forwarding). Then, in the spec's order: the response cache (§13) — a hit or a single-flight
 * follower is answered without spending — then budgets (§12), then forward.
 */
function admit(x: Exchange, r: CompiledRoute, via: string | undefined): void {
  const { req, table } = x;
  const cl = req.headers['content-length'];
  const up: Upload = { hasBody: false, chunked: false, guard: undefined, forwarding: undefined, collecting: undefined };
  if (cl !== undefined) {
    const n = Number(cl);
    if (n > table.maxBodySize) return reject(x, new RelayError('body_too_large', `request body of ${n} bytes exceeds maxBodySize (${table.maxBodySize} bytes)`));
    x.bytesIn = n;
    up.hasBody = n > 0;
  } else if (req.headers['transfer-encoding'] !== undefined || (req.httpVersionMajor === 2 && !req.readableEnded && x.method !== 'GET' && x.method !== 'HEAD')) {
    up.hasBody = up.chunked = true;
  }
  if (up.hasBody) {
    up.guard = guardUpload(req, x.res, { idleTimeout: r.idleTimeout, timeout: r.timeout, start: x.start }, (err) => {
      if (up.forwarding) return up.forwarding.abort(err);
      up.collecting?.cancel();
      x.outcome = err.message;
      reject(x, err);
    });
  }
  const target = upstreamTarget(x, r, via);
  if (!target) return;
  const body = bodySource(x, up);
  const rest = x.routePath;
  // The tail the cache matches is the path after the prefix, whatever stripPrefix says.
  const cachedTail = r.prefix === '/' ? rest : rest.slice(r.prefix.length);
  if (r.cache?.applies(x.method, cachedTail)) {
    return throughCache(x, r.cache, { body, touch: up.guard && (() => up.guard!.touch()), upstreamPath: target.path, upstreamHeaders: target.headers }, {
      done: hooks.done,
      upstream: (xx, b, tap) => spend(xx, r, target, up, b, tap),
    });
  }
  spend(x, r, target, up, body, undefined);
}

/** The upstream path and request headers; undefined when a header was refused (answered). */
function upstreamTarget(x: Exchange, r: CompiledRoute, via: string | undefined): Upstream | undefined {
  const { req, table } = x;
  const rest = x.routePath;
  const tail = r.stripPrefix ? (r.prefix === '/' ? rest : rest.slice(r.prefix.length)) : rest;
  // Joined as strings after the safety check: never new URL(clientPath, base).
  const path = (r.upstreamPath + tail || '/') + x.query;
  const fwd = r.forwardClientIp || r.forwardPrefix
    ? {
        clientIp: x.ip,
        proto: (req.socket as { encrypted?: boolean } | undefined)?.encrypted ? 'https' : 'http',
        host: (req.headers.host ?? req.headers[':authority']) as string | undefined,
        priorXff: table.trustProxy ? (req.headers['x-forwarded-for'] as string | undefined) : undefined,
        prefix: r.forwardPrefix ? x.base + (r.prefix === '/' ? '' : r.prefix) : undefined,
      }
    : undefined;
  try {
    return { path, headers: upstreamRequestHeaders(req.headers, r.headerPlan, via, fwd, x.requestId) };
  } catch (err) {
    reject(x, new RelayError('bad_request', `invalid request header: ${(err as Error).message}`));
    return undefined;
  }
}

/**
 * Where the request body is read from: the request itself, or, when chunked, a stream that
 * counts it and fails it past maxBodySize. The readers that keep a small body in memory (the
 * cache key, the budget gate, a replay or SSE sniff) read it from here, touching the upload
 * guard per chunk; only a body that streams to undici gets a wrapper (`forUndici`).
 */
function bodySource(x: Exchange, up: Upload): Readable | null {
  const { req, table } = x;
  if (up.chunked) {
    const upload = up.guard;
    return limitBody(req, table.maxBodySize, (err) => {
      x.outcome = err.message;
      if (!x.res.headersSent) sendError(x, err);
    }, (n) => {
      x.bytesIn += n;
      upload?.touch();
    });
  }
  return up.hasBody ? req : null;
}

/**
 * The body as undici gets it. With a guard, the request goes through a counting stream: the
 * guard's clock needs every chunk, and undici must not destroy the request itself (see
 * limitBody). Made only here, when the body really streams upstream: a body read into memory
 * first (a cache key, a budget) never pays for the extra stream.
 */
function forUndici(x: Exchange, up: Upload, body: Readable | null): Readable | null {
  const upload = up.guard;
  return body === x.req && upload ? limitBody(body, Infinity, () => {}, () => upload.touch()) : body;
}

/** Budgets (§12) of a request that goes upstream: cache hits and followers never get here. */
function spend(x: Exchange, r: CompiledRoute, target: Upstream, up: Upload, body: Readable | Buffer | null, tap: ForwardTap | undefined): void {
  if (!r.budgets) return toUpstream(x, r, target, up, body, tap, false);
  budgetGate(x, r, up, body, (pre) => toUpstream(x, r, target, up, pre ? pre.body : body, tap, pre?.stripUsage === true), (err) => reject(x, err), () => hooks.done(x));
}

/** Every request that goes upstream passes here, last. */
function toUpstream(x: Exchange, r: CompiledRoute, target: Upstream, up: Upload, body: Readable | Buffer | null, tap: ForwardTap | undefined, stripUsage: boolean): void {
  const req = x.req;
  const accept = req.headers.accept;
  const wantsSse = typeof accept === 'string' && accept.includes('text/event-stream');
  const upload = up.guard;
  const extra = { ...(tap ? { tap } : {}), ...(stripUsage ? { stripUsage } : {}), upload };
  if (Buffer.isBuffer(body)) {
    // Already read (by the cache for its key, or by the budget gate): forwarded from memory.
    if (stripUsage) target.headers['content-length'] = String(body.length);
    const wantsStream = wantsSse || (r.heartbeat > 0 && isJson(req.headers['content-type']) && STREAM_TRUE.test(body.toString('latin1')));
    up.forwarding = forward(x, { method: x.method, path: target.path, headers: target.headers, body, wantsStream, ...extra }, hooks);
    return;
  }
  // Keep the body in memory only where it buys something: a replay on a fresh key/token, or
  // seeing `"stream": true` for an early SSE start. Bounded; larger bodies stream as usual.
  const keep = Math.max(r.credentials?.replayLimit ?? 0, r.heartbeat && isJson(req.headers['content-type']) ? SNIFF_LIMIT : 0);
  if (body && up.hasBody && !up.chunked && x.bytesIn <= keep) {
    up.collecting = collect(body, upload, (buf) => {
      up.collecting = undefined;
      if (!buf) return hooks.done(x); // the client went away while uploading
      const wantsStream = wantsSse || (r.heartbeat > 0 && STREAM_TRUE.test(buf.toString('latin1')));
      up.forwarding = forward(x, { method: x.method, path: target.path, headers: target.headers, body: buf, wantsStream, ...extra }, hooks);
    });
    return;
  }
  up.forwarding = forward(x, { method: x.method, path: target.path, headers: target.headers, body: forUndici(x, up, body), wantsStream: wantsSse, ...extra }, hooks);
}

const SNIFF_LIMIT = 1024 * 1024;
const STREAM_TRUE = /"stream"\s*:\s*true/;

function isJson(ct: string | undefined): boolean {
  return typeof ct === 'string' && ct.includes('json');
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
      const problem = state.routeProblem?.(r) ?? r.credentials?.problem() ?? r.auth.problem() ?? r.transformProblem?.();
      return problem ? { name: r.name, state: 'failing', problem } : { name: r.name, state: 'ok' };
    }),
  });
}
