/**
 * Forwards one exchange to its upstream with undici's dispatch API (the lowest-overhead path,
 * see performance.md §6) and streams the response back with backpressure. Nothing is buffered on
 * the pass-through path; a transform session gets the body only when its planner matched.
 */
import { Transform, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { RelayError } from '../errors.js';
import type { Exchange } from '../server/context.js';
import { CONNECT_FAILURES, errorCode, mapUpstreamError } from './errors.js';
import { downstreamResponseHeaders, type OutHeaders } from './headers.js';
import type { TransformSession, ResponseSink } from '../transforms/types.js';

export interface ForwardRequest {
  method: string;
  /** Path + query for the upstream (already joined and checked). */
  path: string;
  headers: OutHeaders;
  /** null for bodiless requests. */
  body: Readable | Buffer | null;
}

export interface ForwardHooks {
  /** Sends the relay's JSON error (before headers) — provided by the server layer. */
  sendError(x: Exchange, err: RelayError): void;
  /** Called exactly once when the exchange is over (access log). */
  done(x: Exchange): void;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

export function forward(x: Exchange, fr: ForwardRequest, hooks: ForwardHooks): void {
  const route = x.route!;
  const res = x.res;
  let attempt = 0;
  let controller: Dispatcher.DispatchController | undefined;
  let clientGone = false;
  let finished = false;
  let started = false; // response head written to the client
  let session: TransformSession | null = null;
  let totalTimer: NodeJS.Timeout | undefined;

  const finish = () => {
    if (finished) return;
    finished = true;
    if (totalTimer) clearTimeout(totalTimer);
    hooks.done(x);
  };

  // A client that goes away aborts the upstream request (res 'close' before it finished).
  res.on('close', () => {
    if (!res.writableFinished) {
      clientGone = true;
      x.outcome ??= 'client closed the connection';
      if (x.status === 0) x.status = 499;
      controller?.abort(new Error('client closed the connection'));
      finish();
    }
  });

  if (route.timeout > 0) {
    totalTimer = setTimeout(() => {
      const err = Object.assign(new Error('total timeout'), { code: 'RELAY_TOTAL_TIMEOUT' });
      if (controller) controller.abort(err);
      else fail(err);
    }, route.timeout);
    totalTimer.unref();
  }

  const fail = (err: unknown) => {
    if (finished || clientGone) return finish();
    const mapped = mapUpstreamError(err, route.errorContext);
    if (!started) {
      x.outcome = mapped.message;
      hooks.sendError(x, mapped);
      finish();
    } else {
      // After the head was sent the only honest signal is a broken stream, never a clean end.
      x.outcome = `stream cut: ${mapped.message}`;
      if (session) session.error(mapped);
      else res.destroy(mapped);
      finish();
    }
  };

  const sink: ResponseSink = {
    writeHead(status, headers) {
      started = true;
      x.status = status;
      writeHead(x, status, headers);
    },
    write(chunk) {
      x.bytesOut += chunk.length;
      return res.write(chunk);
    },
    onDrain(cb) {
      res.once('drain', cb);
    },
    end() {
      res.end();
    },
    destroy(err) {
      res.destroy(err);
    },
  };

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (clientGone) c.abort(new Error('client closed the connection'));
    },
    onResponseStart(c, status, headers) {
      if (status < 200) return; // 1xx informational (e.g. 100 Continue from upstream)
      x.upstreamHeadersAt = performance.now();
      const out = downstreamResponseHeaders(headers as Record<string, string | string[]>, route.locationFor(x.base));
      if (route.transform) {
        session = route.transform({ status, headers: out }, sink, {
          route: route.info,
          log: x.log,
          requestId: x.requestId,
          signal: abortSignalFor(res),
          resume: () => c.resume(),
        });
        if (session) return;
      }
      started = true;
      x.status = status;
      writeHead(x, status, out);
    },
    onResponseData(c, chunk) {
      if (session) {
        if (!session.data(chunk)) c.pause();
        return;
      }
      x.bytesOut += chunk.length;
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      if (session) session.end();
      else res.end();
      // The access line is written when the client has the last byte (res 'finish').
      if (res.writableFinished) finish();
      else res.once('finish', finish);
    },
    onResponseError(_c, err) {
      controller = undefined;
      if (!started && !clientGone && attempt < route.retries && retryable(err, fr, x.upstreamHeadersAt === 0)) {
        attempt++;
        const delay = Math.min(1000, 50 * 2 ** (attempt - 1)) * (0.5 + Math.random());
        setTimeout(dispatch, delay).unref();
        return;
      }
      fail(err);
    },
  };

  const dispatch = () => {
    if (clientGone) return;
    x.upstreamStart = performance.now();
    route.pool.dispatcher.dispatch(
      {
        origin: route.origin,
        method: fr.method,
        path: fr.path,
        headers: fr.headers as Record<string, string>,
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
  dispatch();
}

/** Connect failures never reached the upstream: retry any method. Others only if idempotent and bodiless. */
function retryable(err: unknown, fr: ForwardRequest, noResponse: boolean): boolean {
  const code = errorCode(err);
  if (CONNECT_FAILURES.has(code)) return isReplayable(fr.body);
  if (!noResponse) return false;
  return IDEMPOTENT.has(fr.method) && fr.body === null && (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET');
}

function isReplayable(body: ForwardRequest['body']): boolean {
  if (body === null || Buffer.isBuffer(body)) return true;
  // A stream nobody has read yet can still be handed to the next attempt.
  return !body.readableDidRead && !body.destroyed;
}

/** Writes the response head with the relay's own headers and Server-Timing. */
export function writeHead(x: Exchange, status: number, headers: OutHeaders): void {
  const now = performance.now();
  const upstreamMs = x.upstreamHeadersAt ? x.upstreamHeadersAt - x.upstreamStart : 0;
  const relayMs = now - x.start - upstreamMs;
  const h = headers;
  const ct = h['content-type'];
  if (typeof ct === 'string' && ct.startsWith('text/event-stream')) {
    // SSE must reach the client per chunk: no caching, no proxy buffering (nginx), no transform.
    h['cache-control'] = 'no-cache, no-transform';
    h['x-accel-buffering'] = 'no';
  }
  for (const k in x.relayHeaders) h[k] = x.relayHeaders[k]!;
  const vary = h.vary;
  h.vary = vary ? (String(vary).toLowerCase().includes('origin') ? vary : `${vary}, Origin`) : 'Origin';
  const st = `relay;dur=${relayMs.toFixed(2)}, upstream;dur=${upstreamMs.toFixed(2)}`;
  h['server-timing'] = h['server-timing'] ? `${st}, ${h['server-timing']}` : st;
  x.res.writeHead(status, h);
  if (typeof ct === 'string' && ct.startsWith('text/event-stream')) {
    x.res.flushHeaders();
  }
}

function abortSignalFor(res: { on(ev: 'close', cb: () => void): unknown; writableFinished: boolean }): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

/** Counts a chunked request body and fails it with 413 as soon as it passes the limit. */
export function limitBody(src: Readable, max: number, onExceeded: (err: RelayError) => void): Transform {
  let seen = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
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
  src.pipe(t);
  return t;
}
