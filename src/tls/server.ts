/**
 * The HTTPS listener. With `http2` it offers ALPN h2 and http/1.1 on one port: browsers open at
 * most six HTTP/1.1 connections per origin, so a page holding more than six SSE streams stalls
 * unless they share one h2 connection. HTTP/1.1 clients (curl, SDKs) are served as before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { randomUUID } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import { errorBody, RelayError } from '../errors.js';
import { LiveSet } from '../server/live-set.js';

export type AnyRequest = IncomingMessage | http2.Http2ServerRequest;
export type AnyResponse = ServerResponse | http2.Http2ServerResponse;

/**
 * A request handler for either protocol. Declared as a method signature so that a handler
 * written for `(IncomingMessage, ServerResponse)` is accepted too (method parameters are
 * bivariant); at run time h2 requests arrive as the compat `Http2ServerRequest/Response`.
 */
export type TlsRequestHandler = {
  bivarianceHack(req: AnyRequest, res: AnyResponse): void;
}['bivarianceHack'];

export interface TlsMaterial {
  key: string;
  cert: string;
}

export interface HttpsServerOptions {
  http2: boolean;
  /** Largest request head in bytes (HTTP/1.1 parser limit; h2 SETTINGS_MAX_HEADER_LIST_SIZE). */
  maxHeaderSize?: number;
  /** How often Node checks headersTimeout (its default, 30 s, lets a slowloris socket live on). */
  connectionsCheckingInterval?: number;
  /** Concurrent streams per h2 connection; default 256 (nginx uses 128, Go 250). */
  maxConcurrentStreams?: number;
}

export type HttpsServer = https.Server | http2.Http2SecureServer;

const DEFAULT_MAX_CONCURRENT_STREAMS = 256;

export function createHttpsServer(handler: TlsRequestHandler, material: TlsMaterial, opts: HttpsServerOptions): HttpsServer {
  const secure = { key: material.key, cert: material.cert, minVersion: 'TLSv1.2' as const };
  if (!opts.http2) {
    return https.createServer(
      {
        ...secure,
        ...(opts.maxHeaderSize ? { maxHeaderSize: opts.maxHeaderSize } : {}),
        ...(opts.connectionsCheckingInterval ? { connectionsCheckingInterval: opts.connectionsCheckingInterval } : {}),
      },
      handler,
    );
  }
  const server = http2.createSecureServer(
    {
      ...secure,
      allowHTTP1: true,
      ALPNProtocols: ['h2', 'http/1.1'],
      settings: {
        maxConcurrentStreams: opts.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS,
        ...(opts.maxHeaderSize ? { maxHeaderListSize: opts.maxHeaderSize } : {}),
      },
    },
    (req, res) => {
      if (req.httpVersionMajor === 2) {
        guardH2Response(res);
        if (opts.maxHeaderSize && headerListSize(req.rawHeaders) > opts.maxHeaderSize) {
          refuseLargeHead(res, opts.maxHeaderSize);
          return;
        }
      }
      handler(req, res);
    },
  );
  const sessions = new LiveSet<http2.ServerHttp2Session>(); // connection churn: see server/live-set.ts
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  h2Sessions.set(server, sessions);
  // The HTTP/1.1 fallback runs Node's http connection listener against this server object and
  // reads its limits from the same properties an http.Server has.
  if (opts.maxHeaderSize) (server as unknown as { maxHeaderSize: number }).maxHeaderSize = opts.maxHeaderSize;
  return server;
}

const h2Sessions = new WeakMap<HttpsServer, LiveSet<http2.ServerHttp2Session>>();

/**
 * For draining: after `server.close()` (no new connections), ask open connections to finish.
 * h2 sessions get GOAWAY (streams in flight complete, no new ones start; `server.close()` alone
 * waits for them forever), idle HTTP/1.1 keep-alive sockets are closed.
 */
export function closeIdleHttpsConnections(server: HttpsServer): void {
  for (const session of h2Sessions.get(server) ?? []) session.close();
  (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
}

/** Destroys every connection at once (end of the shutdown grace period). */
export function destroyHttpsConnections(server: HttpsServer): void {
  for (const session of h2Sessions.get(server) ?? []) session.destroy();
  (server as { closeAllConnections?: () => void }).closeAllConnections?.();
}

/**
 * Swaps the certificate for new connections; open connections keep the context they
 * handshook with. Throws (leaving the old context in place) when the pair is unusable.
 */
export function reloadServerTls(server: HttpsServer, material: TlsMaterial): void {
  (server as TlsServer).setSecureContext({ key: material.key, cert: material.cert, minVersion: 'TLSv1.2' });
}

/** The protocol a request arrived on, for logs: "h2" or "http/1.1". */
export function requestProtocol(req: AnyRequest): 'h2' | 'http/1.1' {
  return req.httpVersionMajor === 2 ? 'h2' : 'http/1.1';
}

/**
 * Node advertises SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it on incoming requests, so
 * the limit HTTP/1.1 clients get from the parser is applied here, measured as RFC 9113 §6.5.2
 * does (name + value + 32 octets per field).
 */
function headerListSize(raw: readonly string[]): number {
  let size = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) size += raw[i]!.length + raw[i + 1]!.length + 32;
  return size;
}

function refuseLargeHead(res: http2.Http2ServerResponse, limit: number): void {
  const err = new RelayError('header_too_large', `request headers exceed ${limit} bytes (server.limits.maxHeaderSize)`);
  res.writeHead(err.status, { 'content-type': 'application/json' });
  res.end(errorBody(err, undefined, randomUUID()));
}

/**
 * RFC 9113 §8.2.2: connection-specific header fields are malformed in HTTP/2. Node's compat
 * layer throws ERR_HTTP2_INVALID_CONNECTION_HEADERS on Transfer-Encoding, Keep-Alive, Upgrade
 * and Proxy-Connection (and drops Connection with a warning), which would turn an HTTP/1.1
 * habit anywhere in the core into a crashed response. Drop them here instead.
 */
const H2_CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

type HeaderBag = http2.OutgoingHttpHeaders | readonly string[] | undefined;

function guardH2Response(res: http2.Http2ServerResponse): void {
  // Node 20's compat response reports the stream's writableFinished, which turns true when the
  // client cancels (RST_STREAM destroys the stream) although end() was never called. Code that
  // detects a vanished client with `res.on('close')` + `!res.writableFinished` (as for HTTP/1.1)
  // would then never abort the upstream request. Finished means: we ended it and it flushed.
  Object.defineProperty(res, 'writableFinished', {
    configurable: true,
    get: () => res.writableEnded && res.stream.writableFinished,
  });
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (name: string, value: number | string | readonly string[]) =>
    H2_CONNECTION_HEADERS.has(name.toLowerCase()) ? res : setHeader(name, value);
  const writeHead = res.writeHead.bind(res) as (status: number, ...rest: unknown[]) => http2.Http2ServerResponse;
  res.writeHead = ((status: number, ...rest: unknown[]) =>
    writeHead(status, ...rest.map((arg) => (typeof arg === 'string' ? arg : withoutConnectionHeaders(arg as HeaderBag))))) as typeof res.writeHead;
}

function withoutConnectionHeaders(headers: HeaderBag): HeaderBag {
  if (!headers) return headers;
  if (Array.isArray(headers)) {
    const out: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (!H2_CONNECTION_HEADERS.has(String(headers[i]).toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
    }
    return out;
  }
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!H2_CONNECTION_HEADERS.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}
