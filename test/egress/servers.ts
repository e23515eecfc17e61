/**
 * Small real servers for the egress and forward-proxy tests, all on 127.0.0.1 port 0:
 * a TLS upstream with a generated certificate, CONNECT proxies (good, dropping, silent) and a
 * SOCKS5 server, each recording what it saw.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createProxy } from 'proxy';
import socks5 from 'simple-socks';
import { generateCertificate, type GeneratedCertificate } from '../../src/tls/generate.js';

export function testCert(hosts: string[] = ['localhost', '127.0.0.1', 'api.upstream.test']): Promise<GeneratedCertificate> {
  return generateCertificate({ hosts, days: 1, keyType: 'ec' });
}

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** SHA-256 fingerprint of the client certificate, when one was presented (mTLS). */
  clientCert?: string;
}

export interface TestServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

function track(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

/** An upstream answering JSON `{ path }` (or running `handler`), over TLS when a cert is given. */
export async function startUpstream(
  cert?: GeneratedCertificate,
  handler?: http.RequestListener,
  opts: { requestCert?: boolean } = {},
): Promise<TestServer & { requests: Recorded[] }> {
  const requests: Recorded[] = [];
  const onRequest: http.RequestListener = (req, res) => {
    const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    const peer = (req.socket as { getPeerCertificate?: () => { fingerprint256?: string } }).getPeerCertificate?.();
    if (peer?.fingerprint256) rec.clientCert = peer.fingerprint256;
    requests.push(rec);
    req.resume();
    if (handler) return handler(req, res);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url }));
  };
  const server = cert
    ? https.createServer(
        { key: cert.keyPem, cert: cert.certPem, ...(opts.requestCert ? { requestCert: true, rejectUnauthorized: false } : {}) },
        onRequest,
      )
    : http.createServer(onRequest);
  const sockets = track(server);
  const port = await listen(server);
  return { port, url: `${cert ? 'https' : 'http'}://127.0.0.1:${port}`, requests, close: closer(server, sockets) };
}

/** An HTTP CONNECT proxy (npm `proxy`) with optional Basic auth, recording every CONNECT; over TLS with `tls`. */
export async function startConnectProxy(
  auth?: { user: string; pass: string },
  tls?: GeneratedCertificate,
): Promise<TestServer & { connects: Recorded[] }> {
  const connects: Recorded[] = [];
  const server = tls ? https.createServer({ key: tls.keyPem, cert: tls.certPem }) : http.createServer();
  // Our listener runs first and records; the `proxy` package then does the real work.
  server.on('connect', (req: http.IncomingMessage) => {
    connects.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
  });
  const proxy = createProxy(server);
  if (auth) {
    const expected = `Basic ${Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')}`;
    proxy.authenticate = (req: http.IncomingMessage) => req.headers['proxy-authorization'] === expected;
  }
  const sockets = track(server);
  const port = await listen(server);
  return { port, url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, connects, close: closer(server, sockets) };
}

/** A "proxy" that accepts TCP, reads the CONNECT and closes without a word (undici #3897). */
export async function startDroppingProxy(): Promise<TestServer & { attempts: () => number }> {
  let attempts = 0;
  const server = net.createServer((s) => {
    s.once('data', () => {
      attempts++;
      s.destroy();
    });
    s.on('error', () => {});
  });
  const sockets = track(server);
  const port = await listen(server);
  return { port, url: `http://127.0.0.1:${port}`, attempts: () => attempts, close: closer(server, sockets) };
}

/** A "proxy" that accepts TCP and never answers. */
export async function startSilentProxy(): Promise<TestServer> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.resume(); // reads (and drops) what arrives, so it sees the client's FIN
  });
  const sockets = track(server);
  const port = await listen(server);
  return { port, url: `http://127.0.0.1:${port}`, close: closer(server, sockets) };
}

/**
 * A SOCKS5 server (npm `simple-socks`) recording the destination each client asked for, as the
 * client sent it (a name for socks5h). `hosts` maps names to addresses at the proxy, standing in
 * for the proxy's own DNS.
 */
export async function startSocksServer(
  opts: { auth?: { user: string; pass: string }; hosts?: Record<string, string> } = {},
): Promise<TestServer & { destinations: { address: string; port: number }[]; authFailures: () => number }> {
  const destinations: { address: string; port: number }[] = [];
  let authFailures = 0;
  const server = socks5.createServer({
    ...(opts.auth
      ? {
          authenticate(username, password, _socket, callback) {
            if (username === opts.auth!.user && password === opts.auth!.pass) return setImmediate(callback);
            authFailures++;
            return setImmediate(callback, new Error('bad credentials'));
          },
        }
      : {}),
    connectionFilter(destination, _origin, callback) {
      destinations.push({ address: destination.address, port: destination.port });
      setImmediate(callback);
    },
    connectionOptions(destination, _origin, defaults, callback) {
      const mapped = opts.hosts?.[destination.address];
      callback(null, mapped ? { ...defaults, host: mapped } as net.NetConnectOpts : defaults);
    },
  });
  const sockets = track(server);
  const port = await listen(server);
  return {
    port,
    url: `socks5://127.0.0.1:${port}`,
    destinations,
    authFailures: () => authFailures,
    close: closer(server, sockets),
  };
}

/** CPU used by this process (user + system) as a fraction of one core over `ms`. */
export async function cpuShare(ms: number): Promise<number> {
  const start = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, ms));
  const used = process.cpuUsage(start);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  return (used.user + used.system) / wallUs;
}

/** A raw TCP server (on `host`, default 127.0.0.1) whose close() also ends open connections. */
export async function startNetServer(handler: (s: net.Socket) => void, host = '127.0.0.1'): Promise<TestServer> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    handler(s);
  });
  const sockets = track(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
  return { port, url: `tcp://${host}:${port}`, close: closer(server, sockets) };
}
