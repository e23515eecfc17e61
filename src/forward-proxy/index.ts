/**
 * Forward-proxy mode (`forwardProxy:`, spec §7): the relay as the egress proxy on a VPS, in
 * place of Squid or 3proxy. CONNECT tunnels and absolute-form HTTP on node:http, Basic auth
 * against `users`, an allow-list of host:port targets, refusal of private addresses after
 * resolution (dialling exactly the checked address), an idle timeout, a connection cap and one
 * log line per tunnel. It shares the relay's process, config, logger and shutdown: startRelay
 * starts it when the config has `forwardProxy` and awaits close() on shutdown.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import type { ForwardProxyConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Redactor } from '../log/redact.js';
import { createContext } from './context.js';
import { handleConnect } from './connect.js';
import { handleAbsolute } from './absolute.js';
import type { Lookup } from './dial.js';
import { gateConnections, refuseWith } from '../server/connection-gate.js';

export interface ForwardProxyOptions {
  log: Logger;
  /** The relay's redactor; the users' passwords are added so no log line can carry one. */
  redactor?: Redactor;
  /** Name resolution (tests); default: the system resolver (dns.lookup, all addresses). */
  lookup?: Lookup;
}

export interface ForwardProxy {
  address: AddressInfo;
  /** `http://host:port`, with a wildcard listen address shown as 127.0.0.1. */
  url: string;
  /** Stops listening and ends every tunnel and proxied request. */
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;
const OVERLOADED_BODY = 'ai-relay forward proxy: too many connections (maxConnections)\n';
const OVERLOADED = `HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(OVERLOADED_BODY)}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n${OVERLOADED_BODY}`;

export async function startForwardProxy(cfg: ForwardProxyConfig, opts: ForwardProxyOptions): Promise<ForwardProxy> {
  const log = opts.log.child({ component: 'forward-proxy' });
  for (const password of Object.values(cfg.users)) opts.redactor?.add(password);
  const ctx = createContext(cfg, log, opts.lookup);

  const server = http.createServer();
  server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => handleConnect(ctx, req, socket, head));
  server.on('request', (req, res) => handleAbsolute(ctx, req, res));
  // maxConnections counts TCP connections (a tunnel, or a keep-alive connection carrying proxied
  // requests) and is checked before node:http parses anything (server/connection-gate.ts): an
  // over-cap connection gets its 503 without a request being read, so nothing is dialled for it.
  const gate = gateConnections(server, {
    max: () => cfg.maxConnections,
    refuse(sock) {
      refuseWith(sock, OVERLOADED);
      const rec = { kind: 'connection', client: sock.remoteAddress ?? '', bytesUp: 0, bytesDown: 0, outcome: 'overloaded', status: 503, error: 'too many connections' } as const;
      ctx.logTunnel(rec, Date.now());
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${address.port}`;
  if (Object.keys(cfg.users).length === 0 && !LOOPBACK.test(cfg.host)) {
    log.warn({ host: cfg.host }, 'forward proxy has no users: anyone who can reach it may use it for the allowed targets');
  }
  log.info({ url, allow: cfg.allow, denyPrivateNetworks: cfg.denyPrivateNetworks }, 'forward proxy listening');

  let closed: Promise<void> | undefined;
  return {
    address,
    url,
    close() {
      closed ??= new Promise<void>((resolve) => {
        ctx.closing.abort();
        server.close(() => resolve());
        for (const s of ctx.live) s.destroy();
        server.closeAllConnections();
        gate.destroyAll();
      });
      return closed;
    },
  };
}
