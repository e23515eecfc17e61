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
import { LiveSet } from './live-set.js';

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

export async function listen(
  cfg: ServerConfig,
  handler: (req: AnyRequest, res: AnyResponse) => void,
  tls: TlsMaterial | undefined,
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

  const sockets = new LiveSet<Socket>(); // a connection per request is churn too: see live-set.ts
  const onSocket = (sock: Socket) => {
    if (sockets.size >= limits.maxConnections) {
      // Past the cap: a clear 503 instead of an unbounded queue. (TLS sockets: just close.)
      if (!tls) sock.end(OVERLOADED);
      else sock.destroy();
      return;
    }
    sock.setNoDelay(true);
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
  };
  server.on(tls ? 'secureConnection' : 'connection', onSocket);
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
      for (const sock of sockets) sock.destroy();
    },
    reloadTls(material) {
      reloadServerTls(server as HttpsServer, material);
    },
    applyLimits(next) {
      limits = next;
      s.headersTimeout = next.headersTimeout;
      s.keepAliveTimeout = next.keepAliveTimeout;
    },
    connections: () => sockets.size,
  };
}
