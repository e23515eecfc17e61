/**
 * Forwards one exchange to its upstream with undici's dispatch API (the lowest-overhead path,
 * see performance.md §6) and streams the response back with backpressure. Nothing is buffered on
 * the pass-through path; a transform or scrub session gets the body only when it matched.
 *
 * Per attempt: take a credential lease → dispatch → on the response head, report the status to
 * the lease (a rejected key/token may retry once on a fresh lease while nothing was sent) →
 * stream. Connect failures retry with jittered backoff (nothing reached the upstream).
 */
import { Transform, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { errorBody, RelayError } from '../errors.js';
import type { Exchange } from '../server/context.js';
import { CONNECT_FAILURES, errorCode, mapUpstreamError } from './errors.js';
import { downstreamResponseHeaders, type OutHeaders } from './headers.js';
import type { TransformSession, ResponseSink } from '../transforms/types.js';
import type { Lease } from './credentials/types.js';
import { createScrubSession } from './scrub.js';
import { createHeartbeat, type Heartbeat } from './heartbeat.js';
import type { UploadGuard } from '../server/upload-guard.js';
import { createUsageTap, type UsageTap } from '../usage/tap.js';

export interface ForwardRequest {
  method: string;
  /** Path + query for the upstream (already joined and checked). */
  path: string;
  headers: OutHeaders;
  /** null for bodiless requests; a Buffer when it was kept for replay. */
  body: Readable | Buffer | null;
  /** The client asked for a stream (Accept: text/event-stream or JSON "stream": true). */
  wantsStream: boolean;
  /** The relay asked for `include_usage`: leave the usage-only chunk out of the client's stream. */
  stripUsage?: boolean;
  /** Watches the request body while it arrives (server/upload-guard.ts); absent without a body. */
  upload?: UploadGuard | undefined;
  /** Sees what the client receives (the response cache records through it). */
  tap?: ForwardTap;
}

/**
 * A listener on the answer as the client receives it (after transforms). It is told the
 * upstream's head, the head written to the client (before the relay's own headers are added), each
 * body chunk by reference, and how the answer ended. It can keep the upstream call running after
 * this exchange's client left (other clients follow it) and is handed a way to abort it.
 */
export interface ForwardTap {
  upstream(status: number, headers: OutHeaders, raw: Record<string, string | string[] | undefined>): void;
  head(status: number, headers: OutHeaders): void;
  data(chunk: Buffer): void;
  /** The upstream answer ended normally and the client has all of it (or left after it was shared). */
  end(): void;
  /** The answer will not complete: error, reset, timeout, early-start error, or the client left. */
  fail(reason: string): void;
  /** This exchange's client left: true keeps the upstream call going for others. */
  keepGoing(): boolean;
  /** Set by forward(): aborts the upstream call (when nobody follows it any more). */
  abort?: (reason: string) => void;
}

/** What the server layer may do to an exchange once it is being forwarded. */
export interface ForwardHandle {
  /**
   * Ends the exchange with `err` (e.g. a stalled upload): the upstream request is aborted, and
   * the client gets `err` as a JSON error if nothing was answered yet, else a cut stream.
   */
  abort(err: RelayError): void;
}

export interface ForwardHooks {
  /** Sends the relay's JSON error (before headers) — provided by the server layer. */
  sendError(x: Exchange, err: RelayError): void;
  /** Called exactly once when the exchange is over (access log). */
  done(x: Exchange): void;
}

const BODY_LOG_LIMIT = 2048;

function truncate(b: Buffer, total = b.length): string {
  const t = b.subarray(0, BODY_LOG_LIMIT).toString('utf8');
  return total > BODY_LOG_LIMIT ? `${t}… (${total} bytes)` : t;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const EVENT_STREAM = 'text/event-stream';

export function forward(x: Exchange, fr: ForwardRequest, hooks: ForwardHooks): ForwardHandle {
  const route = x.route!;
  const res = x.res;
  let attempt = 0;
  let credentialRetried = false;
  let discard = false; // the current upstream answer is being dropped for a retry
  let controller: Dispatcher.DispatchController | undefined;
  let clientGone = false;
  let finished = false;
  let started = false; // response head written to the client
  let early = false; // an early `200 text/event-stream` was sent before upstream headers
  let session: TransformSession | null = null;
  let lease: Lease | undefined;
  let totalTimer: NodeJS.Timeout | undefined;
  let earlyTimer: NodeJS.Timeout | undefined;
  let heartbeat: Heartbeat | undefined;
  let sendTimer: NodeJS.Timeout | undefined;
  let usageTap: UsageTap | undefined;
  const tap = fr.tap;
  // The client left but others follow this upstream answer (response cache, single flight):
  // keep reading it for them, write nothing more to this client.
  let detached = false;
  if (tap) tap.abort = (reason) => controller?.abort(new Error(reason));

  // log.bodies at debug level: the first bytes of each body, truncated (the logger redacts).
  const bodyLog = x.table.config.log.bodies && x.log.isLevelEnabled('debug') ? { res: [] as Buffer[], size: 0 } : undefined;
  const finish = () => {
    if (finished) return;
    finished = true;
    // A stream cut after its usage event still reported it.
    if (usageTap && x.usage === undefined) x.usage = usageTap.usage;
    if (bodyLog) {
      x.log.debug(
        { req_id: x.requestId, req_body: Buffer.isBuffer(fr.body) ? truncate(fr.body) : fr.body ? '(streamed)' : undefined, res_body: truncate(Buffer.concat(bodyLog.res), bodyLog.size) },
        'bodies',
      );
    }
    if (totalTimer) clearTimeout(totalTimer);
    if (earlyTimer) clearTimeout(earlyTimer);
    if (sendTimer) clearTimeout(sendTimer);
    heartbeat?.stop();
    hooks.done(x);
  };

  // A client that goes away aborts the upstream request (res 'close' before it finished).
  res.on('close', () => {
    if (detached) return; // already let go (sendTimeout) while others follow the answer
    if (!res.writableFinished) {
      if (tap && !finished && tap.keepGoing()) {
        detached = true;
        x.outcome ??= 'client closed the connection (the upstream answer goes on for others)';
        if (x.status === 0) x.status = 499;
        finish();
        // Whatever waited for this client to drain (the paused upstream, a transform) goes on.
        res.emit('drain');
        return;
      }
      tap?.fail('client closed the connection');
      clientGone = true;
      x.outcome ??= 'client closed the connection';
      if (x.status === 0) x.status = 499;
      controller?.abort(new Error('client closed the connection'));
      finish();
    }
  });

  if (route.timeout > 0) {
    // The whole exchange, counted from accept: a body buffered for replay took part of it already.
    totalTimer = setTimeout(() => {
      // Still uploading at the deadline: the client's fault (408), not the upstream's (504).
      const err = fr.upload?.expired() ?? Object.assign(new Error('total timeout'), { code: 'RELAY_TOTAL_TIMEOUT' });
      if (controller) controller.abort(err);
      else fail(err);
    }, Math.max(0, route.timeout - (performance.now() - x.start)));
    totalTimer.unref();
  }

  const fail = (err: unknown) => {
    tap?.fail(errorCode(err) || 'upstream failure');
    if (detached) return;
    if (finished || clientGone) return finish();
    const mapped = mapUpstreamError(err, route.errorContext);
    if (early && !started) {
      // The client already has `200 text/event-stream`: deliver the error as an SSE event.
      x.outcome = `error after early start: ${mapped.message}`;
      heartbeat?.stop();
      const data = x.table.redactor.scrub(errorBody(mapped, route.name, x.requestId));
      res.end(`event: error\ndata: ${data}\n\n`);
      return finish();
    }
    if (!started) {
      x.outcome = mapped.message;
      hooks.sendError(x, mapped);
      return finish();
    }
    // After the head was sent the only honest signal is a broken stream, never a clean end.
    x.outcome = `stream cut: ${mapped.message}`;
    if (session) session.error(mapped);
    else res.destroy(mapped);
    finish();
  };

  /** Writes with backpressure; a client that reads nothing for sendTimeout is dropped. */
  const write = (chunk: Buffer, c: Dispatcher.DispatchController | undefined): boolean => {
    tap?.data(chunk);
    if (detached) return true;
    x.bytesOut += chunk.length;
    if (res.write(chunk)) return true;
    if (!sendTimer && x.table.sendTimeout > 0) {
      sendTimer = setTimeout(() => {
        x.outcome = `client read nothing for ${x.table.sendTimeout}ms (sendTimeout)`;
        if (tap && tap.keepGoing()) {
          // Others follow this answer: drop only this client and read on for them.
          detached = true;
          res.destroy();
          finish();
          res.emit('drain');
          return;
        }
        clientGone = true; // the client's fault, not the upstream's: keep this outcome
        controller?.abort(new Error('sendTimeout'));
        res.destroy();
      }, x.table.sendTimeout);
      sendTimer.unref();
    }
    c?.pause();
    res.once('drain', () => {
      if (sendTimer) clearTimeout(sendTimer);
      sendTimer = undefined;
      c?.resume();
    });
    return false;
  };

  // Only transform and scrub sessions write through a sink: built on first use, not per request.
  let sinkObj: ResponseSink | undefined;
  const sink = (): ResponseSink =>
    (sinkObj ??= {
      writeHead(status, headers) {
        started = true;
        tap?.head(status, headers);
        if (detached) return;
        x.status = status;
        writeHead(x, status, headers);
      },
      write: (chunk) => write(chunk, undefined),
      onDrain(cb) {
        if (detached) return cb();
        res.once('drain', cb);
      },
      end() {
        tap?.end();
        if (!detached) res.end();
      },
      destroy(err) {
        tap?.fail(err.message);
        if (!detached) res.destroy(err);
      },
    });

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (clientGone) c.abort(new Error('client closed the connection'));
    },
    onResponseStart(c, status, headers) {
      if (status < 200) return; // 1xx informational (e.g. 100 Continue from upstream)
      if (lease && !credentialRetried && !started && !early && isReplayable(fr.body)) {
        if (lease.report(status, headers as Record<string, string>) === 'retry') {
          credentialRetried = true;
          discard = true;
          c.abort(new Error('retrying on a fresh credential'));
          return;
        }
      } else lease?.report(status, headers as Record<string, string>);
      x.upstreamHeadersAt = performance.now();
      if (earlyTimer) clearTimeout(earlyTimer);
      const out = downstreamResponseHeaders(headers as Record<string, string | string[]>, route.locationFor(x.base));
      tap?.upstream(status, out, headers as Record<string, string | string[] | undefined>);
      if (status >= 400 && x.table.redactor.size) scrubHeaders(out, x.table.redactor);
      const isSse = typeof out['content-type'] === 'string' && out['content-type'].startsWith(EVENT_STREAM);
      // Usage rides along in 2xx JSON and SSE bodies; read as they pass (src/usage/tap.ts).
      usageTap = route.usage && status < 300 ? createUsageTap(out['content-type'] as string | undefined, out['content-encoding'] as string | undefined, { strip: fr.stripUsage === true }) : undefined;
      if (usageTap && fr.stripUsage && isSse) delete out['content-length']; // bytes may be left out
      if (early) {
        heartbeat?.stop();
        if (status >= 200 && status < 300 && isSse) {
          started = true;
          x.status = status;
          heartbeat = route.heartbeat ? createHeartbeat(route.heartbeat, (s) => res.write(s)) : undefined;
          return;
        }
        tap?.fail(`upstream answered ${status} after an early start`);
        session = earlyErrorSession(x, status, res, () => (started = true));
        return;
      }
      if (status >= 400 && x.table.redactor.size) session = createScrubSession({ status, headers: out }, sink(), x.table.redactor);
      else if (route.transform) {
        session = route.transform({ status, headers: out }, sink(), { route: route.info, log: x.log, requestId: x.requestId, signal: abortSignalFor(res), resume: () => c.resume() });
      }
      if (session) return;
      started = true;
      tap?.head(status, out);
      if (detached) return;
      x.status = status;
      writeHead(x, status, out);
      if (isSse && route.heartbeat) heartbeat = createHeartbeat(route.heartbeat, (s) => res.write(s));
    },
    onResponseData(c, chunk) {
      if (discard) return;
      fr.upload?.touch(); // "no byte either way": a response in flow keeps a slow upload alive
      if (usageTap) {
        const pass = usageTap.data(chunk);
        if (!pass) return;
        chunk = pass;
      }
      if (session) {
        if (!session.data(chunk)) c.pause();
        return;
      }
      heartbeat?.saw(chunk);
      if (bodyLog && bodyLog.size < BODY_LOG_LIMIT) {
        bodyLog.res.push(chunk.subarray(0, BODY_LOG_LIMIT - bodyLog.size));
        bodyLog.size += chunk.length;
      }
      write(chunk, c);
    },
    onResponseEnd() {
      if (discard) return;
      heartbeat?.stop();
      if (usageTap) {
        const rest = usageTap.end();
        if (rest) {
          if (session) session.data(rest);
          else write(rest, undefined);
        }
        x.usage = usageTap.usage ?? (usageTap.reportsNone ? 'none' : undefined);
      }
      if (session) session.end();
      else {
        tap?.end();
        if (detached) return;
        res.end();
      }
      // The access line is written when the client has the last byte (res 'finish').
      if (res.writableFinished) finish();
      else res.once('finish', finish);
    },
    onResponseError(_c, err) {
      controller = undefined;
      if (discard) {
        discard = false;
        return dispatch();
      }
      if (!started && !early && !clientGone && attempt < route.retries && retryable(err, fr, x.upstreamHeadersAt === 0)) {
        attempt++;
        const delay = Math.min(1000, 50 * 2 ** (attempt - 1)) * (0.5 + Math.random());
        setTimeout(dispatch, delay).unref();
        return;
      }
      fail(err);
    },
  };

  const send = (l: Lease | undefined) => {
    if (clientGone || (finished && !detached)) return;
    lease = l;
    const headers = l ? { ...fr.headers, [l.header]: l.value } : fr.headers;
    x.upstreamStart = performance.now();
    route.pool.dispatcher.dispatch(
      {
        origin: route.origin,
        method: fr.method,
        path: fr.path,
        headers: headers as Record<string, string>,
        body: fr.body,
        headersTimeout: route.firstByteTimeout,
        bodyTimeout: route.idleTimeout,
        // Hold the connection for this request until headers arrive: long generations must not
        // block pipelined requests queued behind them.
        blocking: true,
        reset: false,
      },
      handler,
    );
  };

  const dispatch = () => {
    if (clientGone || (finished && !detached)) return;
    const creds = route.credentials;
    if (!creds) return send(undefined);
    const l = creds.lease();
    if (l instanceof RelayError) return fail(l);
    if (l instanceof Promise) l.then(send, fail);
    else send(l);
  };

  if (route.heartbeat && fr.wantsStream) {
    // Early start: a CDN with a 100 s limit must not cut a model that thinks before its first token.
    earlyTimer = setTimeout(() => {
      if (started || early || finished || clientGone) return;
      early = true;
      x.status = 200;
      const head = { 'content-type': 'text/event-stream; charset=utf-8' };
      tap?.head(200, head);
      writeHead(x, 200, head);
      heartbeat = createHeartbeat(route.heartbeat!, (s) => res.write(s));
      heartbeat.tick();
    }, route.heartbeat);
    earlyTimer.unref();
  }
  dispatch();
  return {
    abort(err) {
      if (finished) return;
      // Through the controller, so undici drops the upstream request (and its half-sent body)
      // and the error takes the one path every failure takes (fail()).
      if (controller) controller.abort(err);
      else fail(err);
    },
  };
}

/** An error answer may echo a secret in a header too (a debug header with the rejected key). */
function scrubHeaders(h: OutHeaders, redactor: Exchange['table']['redactor']): void {
  for (const k in h) {
    const v = h[k]!;
    if (typeof v === 'string') {
      if (redactor.has(v)) h[k] = redactor.scrub(v);
    } else if (v.some((e) => redactor.has(e))) h[k] = v.map((e) => redactor.scrub(e));
  }
}

/** After an early start, a non-SSE or error upstream answer becomes one `event: error`. */
function earlyErrorSession(x: Exchange, status: number, res: Exchange['res'], markStarted: () => void): TransformSession {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    data(chunk) {
      if (size < 64 * 1024) chunks.push(chunk);
      size += chunk.length;
      return true;
    },
    end() {
      markStarted();
      x.status = status;
      const text = x.table.redactor.scrub(Buffer.concat(chunks).toString('utf8').slice(0, 64 * 1024));
      let upstream: unknown = text;
      try {
        upstream = JSON.parse(text);
      } catch {
        /* not JSON: send as text */
      }
      x.outcome = `upstream answered ${status} after early start`;
      const doc = { error: { type: 'upstream_error', message: `upstream answered ${status}`, status, upstream, route: x.route?.name, request_id: x.requestId } };
      res.end(`event: error\ndata: ${JSON.stringify(doc)}\n\n`);
    },
    error(err) {
      res.destroy(err);
    },
  };
}

/** Connect failures never reached the upstream: retry any method. Others only if idempotent and bodiless. */
function retryable(err: unknown, fr: ForwardRequest, noResponse: boolean): boolean {
  const code = errorCode(err);
  if (CONNECT_FAILURES.has(code)) return isReplayable(fr.body);
  // The egress proxy failed before the upstream got anything — unless it refused us (407/403).
  const eg = err as { egress?: string; statusCode?: number };
  if (eg.egress && eg.statusCode !== 407 && eg.statusCode !== 403) return isReplayable(fr.body);
  if (!noResponse) return false;
  return IDEMPOTENT.has(fr.method) && (fr.body === null || Buffer.isBuffer(fr.body)) && (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET');
}

function isReplayable(body: ForwardRequest['body']): boolean {
  if (body === null || Buffer.isBuffer(body)) return true;
  // A stream nobody has read yet can still be handed to the next attempt.
  return !body.readableDidRead && !body.destroyed;
}

/**
 * Writes the response head with the relay's own headers and Server-Timing. The head goes to
 * node:http as one flat [name, value, …] list rather than as `headers` with the relay's headers
 * added: adding a handful of keys to an object of another shape per response took V8's slow
 * property-add path (runtime calls, map migrations): 8.8 µs per cache hit in a CPU profile
 * (bench/analysis.md).
 * `headers` is left as it was. Precedence is unchanged: the relay's headers replace an
 * upstream's of the same name; Vary gains Origin; SSE answers get their no-buffering pair.
 * `own` is a flat [name, value, …] list this answer adds and that replaces `headers`' entries of
 * the same names (a cache hit's Age and Content-Length), so callers need not copy `headers`.
 */
export function writeHead(x: Exchange, status: number, headers: OutHeaders, own: readonly string[] = NONE): void {
  const now = performance.now();
  const upstreamMs = x.upstreamHeadersAt ? x.upstreamHeadersAt - x.upstreamStart : 0;
  const relayMs = now - x.start - upstreamMs;
  const rh = x.relayHeaders;
  const ct = headers['content-type'];
  const sse = typeof ct === 'string' && ct.startsWith(EVENT_STREAM);
  const flat: (string | string[])[] = [];
  // Own keys only: a header named `__proto__` sent twice gives undici's header object an array
  // prototype, whose indexes a `for … in` would turn into headers.
  for (const k of Object.keys(headers)) {
    if (k === 'vary' || k === 'server-timing' || rh[k] !== undefined || (own.length !== 0 && namedIn(own, k))) continue;
    // SSE must reach the client per chunk: no caching, no proxy buffering (nginx), no transform.
    if (sse && (k === 'cache-control' || k === 'x-accel-buffering')) continue;
    flat.push(k, headers[k]!);
  }
  for (let i = 0; i < own.length; i++) flat.push(own[i]!);
  if (sse) flat.push('cache-control', 'no-cache, no-transform', 'x-accel-buffering', 'no');
  for (const k of Object.keys(rh)) if (k !== 'vary' && k !== 'server-timing') flat.push(k, rh[k]!);
  const vary = rh.vary ?? headers.vary;
  flat.push('vary', vary ? (String(vary).toLowerCase().includes('origin') ? vary : `${String(vary)}, Origin`) : 'Origin');
  const st = `relay;dur=${relayMs.toFixed(2)}, upstream;dur=${upstreamMs.toFixed(2)}`;
  const timing = rh['server-timing'] ?? headers['server-timing'];
  flat.push('server-timing', timing ? `${st}, ${String(timing)}` : st);
  x.res.writeHead(status, flat);
  if (sse) x.res.flushHeaders();
}

const NONE: readonly string[] = [];

function namedIn(flat: readonly string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return true;
  return false;
}

function abortSignalFor(res: { on(ev: 'close', cb: () => void): unknown; writableFinished: boolean }): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

/**
 * Counts a request body on its way upstream and fails it with 413 as soon as it passes the limit
 * (a chunked or h2 body has no Content-Length to refuse up front). `onBytes` also sees each chunk
 * (the upload guard's clock). undici gets this stream rather than the request itself: when the
 * upstream request ends early undici destroys its body stream, and destroying the request would
 * destroy the client socket before the relay could answer.
 */
export function limitBody(src: Readable, max: number, onExceeded: (err: RelayError) => void, onBytes?: (n: number) => void): Transform {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      onBytes?.(chunk.length);
      if (seen > max) {
        const err = new RelayError('body_too_large', `request body exceeds ${max} bytes (maxBodySize)`);
        onExceeded(err);
        cb(err);
        return;
      }
      cb(null, chunk);
    },
  });
  src.on('error', (e) => t.destroy(e));
  t.on('error', () => {}); // reported through undici's request error or onExceeded, not here
  src.pipe(t);
  return t;
}
