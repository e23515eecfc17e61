/**
 * A fake upstream on 127.0.0.1:0 that records every request it receives (method, url, headers,
 * body), so a test can assert what actually crossed the relay.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** Resolves when the client side of this request closed (abort detection). */
  closed: Promise<void>;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, rec: Recorded) => unknown;

export interface FakeUpstream {
  url: string;
  port: number;
  requests: Recorded[];
  server: http.Server;
  close(): Promise<void>;
}

const defaultHandler: UpstreamHandler = (req, res, rec) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ok: true, method: req.method, url: req.url, bodyLength: rec.body.length }));
};

export async function startUpstream(handler: UpstreamHandler = defaultHandler, opts: { tls?: { key: string; cert: string } } = {}): Promise<FakeUpstream> {
  const requests: Recorded[] = [];
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    res.on('close', () => closedResolve());
    const rec: Recorded = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0), closed };
    requests.push(rec);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      rec.body = Buffer.concat(chunks);
      Promise.resolve(handler(req, res, rec)).catch((err) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      });
    });
  };
  const server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, listener) : http.createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    server: server as http.Server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

/** Handler variant that does not wait for the request body (for streaming/abort tests). */
export async function startStreamingUpstream(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<FakeUpstream> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    res.on('close', () => closedResolve());
    requests.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0), closed });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
