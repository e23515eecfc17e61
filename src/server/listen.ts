/**
 * The client-facing listener: node:http, or HTTPS/h2 from the TLS module. Applies the hardening
 * limits (spec §3 server.limits) and tracks connections for draining.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ServerConfig } from '../config/schema.js';
import { closeIdleHttpsConnections, createHttpsServer, destroyHttpsConnections, reloadServerTls, type HttpsServer } from '../tls/server.js';
import type { TlsMaterial } from '../tls/server.js';
import type { AnyRequest, AnyResponse } from './context.js';
import type { Logger } from '../log/logger.js';
import { gateConnections, refuseWith } from './connection-gate.js';

export interface Listener {
  server: http.Server | HttpsServer;
  address: AddressInfo;
  url: string;
  /**
   * Stop accepting (new connects are refused); close idle keep-alive connections and send h2
   * GOAWAY so clients open their next request elsewhere. Resolves when every connection is gone.
   */
  stopAccepting(): Promise<void>;
  /** Destroy every remaining connection. */
  destroyAll(): void;
  reloadTls(material: TlsMaterial): void;
  /** Applies the limits that can change on a running server (the rest need a restart). */
  applyLimits(limits: ServerConfig['limits']): void;
  connections(): number;
}

const OVERLOADED_BODY = JSON.stringify({ error: { type: 'overloaded', message: 'too many connections (maxConnections)', route: null, request_id: null } });
const OVERLOADED = `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(OVERLOADED_BODY)}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n${OVERLOADED_BODY}`;

const OVERLOAD_WARN_EVERY_MS = 10_000;

export async function listen(
  cfg: ServerConfig,
  handler: (req: AnyRequest, res: AnyResponse) => void,
  tls: TlsMaterial | undefined,
  log?: Logger,
): Promise<Listener> {
  let limits = cfg.limits;
  // Node checks headersTimeout only this often (default 30 s): keep it a fraction of the timeout.
  const checkEvery = Math.max(100, Math.min(1000, Math.floor(limits.headersTimeout / 4)));
  const server: http.Server | HttpsServer = tls
    ? createHttpsServer(handler, tls, { http2: cfg.tls?.http2 ?? true, maxHeaderSize: limits.maxHeaderSize, connectionsCheckingInterval: checkEvery })
    : http.createServer({ maxHeaderSize: limits.maxHeaderSize, noDelay: true, requestTimeout: 0, connectionsCheckingInterval: checkEvery }, handler);

  const s = server as http.Server;
  s.headersTimeout = limits.headersTimeout; // slowloris: the head must arrive within this
  s.requestTimeout = 0; // uploads of long prompts are bounded by maxBodySize, not by a clock
  s.keepAliveTimeout = limits.keepAliveTimeout;

  // The cap is checked before Node's own connection listeners run (connection-gate.ts explains
  // why): an over-cap connection is never parsed, so nothing it sends reaches an upstream.
  let refusedSince = 0;
  let lastWarn = 0;
  const gate = gateConnections(server, {
    max: () => limits.maxConnections,
    accepted: (sock) => sock.setNoDelay(true),
    refuse(sock) {
      // Plain HTTP gets the spec's 503 `overloaded`; over TLS no answer is possible before a
      // handshake (which is the work the cap exists to avoid), so the socket is just closed.
      if (tls) {
        sock.on('error', () => {});
        sock.destroy();
      } else refuseWith(sock, OVERLOADED);
      refusedSince++;
      const now = Date.now();
      if (log && now - lastWarn >= OVERLOAD_WARN_EVERY_MS) {
        // One line per interval, not per connection: a flood must not flood the log too.
        log.warn({ refused: refusedSince, maxConnections: limits.maxConnections }, `connections past server.limits.maxConnections (${limits.maxConnections}) refused`);
        lastWarn = now;
        refusedSince = 0;
      }
    },
  });
  // Never crash on a client's malformed request: answer 400 (Node's default) and move on.
  server.on('clientError', (err: NodeJS.ErrnoException, sock: Socket) => {
    if (!sock.writable) return sock.destroy();
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    sock.end(`HTTP/1.1 ${code}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  return {
    server,
    address,
    url: `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`,
    stopAccepting() {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        if (tls) closeIdleHttpsConnections(server as HttpsServer);
        else (server as http.Server).closeIdleConnections();
      });
    },
    destroyAll() {
      if (tls) destroyHttpsConnections(server as HttpsServer);
      else (server as http.Server).closeAllConnections();
      gate.destroyAll();
    },
    reloadTls(material) {
      reloadServerTls(server as HttpsServer, material);
    },
    applyLimits(next) {
      limits = next; // maxConnections too: the gate reads it for every new connection
      s.headersTimeout = next.headersTimeout;
      s.keepAliveTimeout = next.keepAliveTimeout;
    },
    connections: () => gate.size,
  };
}
