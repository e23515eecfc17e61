/**
 * The route's `idleTimeout` and `timeout` while the request body is still arriving (spec §3:
 * idleTimeout is "no byte either way"; spec §5: 408 `request_timeout`).
 *
 * Why the relay keeps its own clock for the upload: undici's bodyTimeout watches only the
 * response, its headersTimeout does not run while a request body is still being written, and
 * Node's requestTimeout is off (long prompts are bounded by maxBodySize, not by a clock). Without
 * this, a client that stops sending halfway holds its exchange, the upstream request and both
 * sockets open for as long as it likes.
 *
 * The guard only decides *that* the upload failed; the caller ends the exchange (a 408 while
 * nothing was answered, else a cut connection) and aborts the upstream request. Afterwards the
 * rest of the body is never read, so the connection (h2: the stream) is closed once the answer
 * is out instead of waiting for bytes that are not coming. The same holds for any exchange that
 * ends before its body was complete (an upstream that answered without reading it all).
 */
import type { Http2ServerResponse } from 'node:http2';
import { constants as h2 } from 'node:http2';
import { formatDuration } from '../config/units.js';
import { RelayError } from '../errors.js';
import type { ClientRequest, ClientResponse } from './context.js';

export interface UploadGuard {
  /** A byte moved, either way: the exchange is not idle. */
  touch(): void;
  /** The 408 for the route's `timeout` while the body is still arriving; undefined once it is complete. */
  expired(): RelayError | undefined;
}

export interface UploadLimits {
  /** Route idleTimeout in ms; 0 = none. */
  idleTimeout: number;
  /** Route timeout (whole exchange) in ms; 0 = none. */
  timeout: number;
  /** performance.now() when the exchange was accepted: `timeout` counts from there. */
  start: number;
}

export function guardUpload(req: ClientRequest, res: ClientResponse, limits: UploadLimits, onStall: (err: RelayError) => void): UploadGuard | undefined {
  if (limits.idleTimeout <= 0 && limits.timeout <= 0) return undefined;
  let idle: NodeJS.Timeout | undefined;
  let total: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    if (idle) clearTimeout(idle);
    if (total) clearTimeout(total);
  };
  const expiredError = () => new RelayError('request_timeout', `request body still arriving after ${formatDuration(limits.timeout)} (timeout)`);
  const fire = (err: RelayError) => {
    if (stopped) return;
    stop();
    if (req.complete) return; // the last byte arrived meanwhile: the upload did not fail
    onStall(err);
    dropRest(req, res);
  };

  if (limits.idleTimeout > 0) {
    idle = setTimeout(() => {
      if (stopped) return;
      if (req.complete) return stop();
      // Paused by the relay itself (the upstream does not read yet, or reads slowly): the client
      // is waiting for us, not stalling. Its clock starts again when we read.
      if (req.readableFlowing === false) return void idle!.refresh();
      fire(new RelayError('request_timeout', `request body stalled for ${formatDuration(limits.idleTimeout)} (idleTimeout)`));
    }, limits.idleTimeout);
  }
  if (limits.timeout > 0) {
    total = setTimeout(() => fire(expiredError()), Math.max(0, limits.timeout - (performance.now() - limits.start)));
  }
  req.once('end', stop);
  res.once('close', () => {
    // The exchange is over, however it ended. Answered before the body was complete (an upstream
    // that replied without reading it all, a failure): nobody reads the rest, so the connection
    // must not wait for it either.
    const watching = !stopped;
    stop();
    if (watching && !req.complete) dropRest(req, res);
  });

  return {
    touch() {
      if (!stopped) idle?.refresh();
    },
    expired: () => (req.complete || limits.timeout <= 0 ? undefined : expiredError()),
  };
}

/**
 * The rest of the body will never be read: once the answer (if any) is out, close the connection
 * (HTTP/1.1: the parser is mid-body, so no next request can follow on it) or, on h2, the stream
 * with NO_ERROR (RFC 9113 §8.1: a complete response before the complete request).
 */
function dropRest(req: ClientRequest, res: ClientResponse): void {
  const stream = (res as unknown as Partial<Http2ServerResponse>).stream;
  if (stream) {
    // h2: the compat response reports 'finish' only when the whole stream closed, which a
    // request side left open never lets happen; the stream's own 'finish' is the answer sent.
    const close = () => {
      if (!stream.destroyed && !req.complete) stream.close(h2.NGHTTP2_NO_ERROR);
    };
    if (stream.writableFinished || stream.destroyed) close();
    else stream.once('finish', close);
    return;
  }
  const cut = () => {
    if (!req.complete) req.socket?.destroySoon();
  };
  if (res.writableFinished || res.destroyed) return cut();
  res.once('finish', cut);
  res.once('close', cut); // destroyed instead of finished
}
