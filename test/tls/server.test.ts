import type { ServerResponse } from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificate, type GeneratedCertificate } from '../../src/tls/generate.js';
import { createHttpsServer, destroyHttpsConnections, reloadServerTls, requestProtocol, type AnyRequest, type AnyResponse, type HttpsServer } from '../../src/tls/server.js';
import { probeTls } from './probe.js';

const WAIT_MS = 5000;

function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function listen(server: HttpsServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: HttpsServer): Promise<void> {
  destroyHttpsConnections(server);
  await within(new Promise((resolve) => server.close(resolve)), 'server close');
}

function h2Request(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}) {
  return within(
    new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': path, ...headers });
      let body = '';
      let head: http2.IncomingHttpHeaders = {};
      req.setEncoding('utf8');
      req.on('response', (h) => (head = h));
      req.on('data', (d: string) => (body += d));
      req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body }));
      req.on('error', reject);
      req.end();
    }),
    `h2 ${path}`,
  );
}

function h1Request(port: number, ca: string, path: string, headers: Record<string, string> = {}) {
  return within(
    new Promise<{ status: number; headers: Record<string, unknown>; body: string; httpVersion: string }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, path, ca, headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, httpVersion: res.httpVersion }));
      });
      req.on('error', reject);
      req.end();
    }),
    `http/1.1 ${path}`,
  );
}

function connectH2(port: number, ca: string): Promise<http2.ClientHttp2Session> {
  return within(
    new Promise((resolve, reject) => {
      const session = http2.connect(`https://localhost:${port}`, { ca, host: '127.0.0.1', servername: 'localhost' } as http2.SecureClientSessionOptions);
      session.once('connect', () => resolve(session));
      session.once('error', reject);
    }),
    'h2 connect',
  );
}

let certA: GeneratedCertificate;
let certB: GeneratedCertificate;
beforeAll(async () => {
  [certA, certB] = await Promise.all([
    generateCertificate({ hosts: ['localhost', '127.0.0.1'], days: 2, keyType: 'ec' }),
    generateCertificate({ hosts: ['localhost', '127.0.0.1'], days: 2, keyType: 'ec' }),
  ]);
});

const mat = (c: GeneratedCertificate) => ({ key: c.keyPem, cert: c.certPem });

const sessions: http2.ClientHttp2Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.destroy();
});

function echoHandler(req: AnyRequest, res: AnyResponse): void {
  const names = Object.keys(req.headers).filter((h) => h.startsWith(':')).sort().join(',');
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ protocol: requestProtocol(req), url: req.url, method: req.method, pseudo: names }));
}

describe('createHttpsServer with http2', () => {
  let server: HttpsServer;
  let port: number;
  const releases: Array<() => void> = [];
  let connections = 0;

  beforeAll(async () => {
    server = createHttpsServer(
      (req, anyRes) => {
        const res = anyRes as ServerResponse; // same surface in the h2 compat API
        if (req.url?.startsWith('/sse')) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
          res.write(`data: hello ${req.url}\n\n`);
          releases.push(() => {
            res.write('data: bye\n\n');
            res.end();
          });
          return;
        }
        if (req.url === '/hop-by-hop') {
          // HTTP/1.1 habits that are malformed in HTTP/2 (RFC 9113 §8.2.2) must not crash the response.
          res.setHeader('Transfer-Encoding', 'chunked');
          res.setHeader('Keep-Alive', 'timeout=5');
          res.setHeader('X-Kept', 'yes');
          res.writeHead(200, { Connection: 'keep-alive', Upgrade: 'h2c', 'Proxy-Connection': 'close', 'X-Also': 'kept' });
          res.end('fine');
          return;
        }
        echoHandler(req, res);
      },
      mat(certA),
      { http2: true, maxHeaderSize: 8 * 1024 },
    );
    server.on('secureConnection', () => connections++);
    port = await listen(server);
  });
  afterAll(async () => {
    for (const r of releases.splice(0)) r();
    await close(server);
  });

  it('negotiates h2 by ALPN and serves an h2 client', async () => {
    const session = await connectH2(port, certA.certPem);
    sessions.push(session);
    expect(session.alpnProtocol).toBe('h2');
    const res = await h2Request(session, '/v1/models?x=1');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ protocol: 'h2', url: '/v1/models?x=1', method: 'GET', pseudo: ':authority,:method,:path,:scheme' });
  });

  it('still serves HTTP/1.1 clients on the same port', async () => {
    const res = await h1Request(port, certA.certPem, '/plain');
    expect(res.status).toBe(200);
    expect(res.httpVersion).toBe('1.1');
    expect(JSON.parse(res.body)).toMatchObject({ protocol: 'http/1.1', url: '/plain', pseudo: '' });
  });

  it('applies maxHeaderSize to HTTP/1.1 clients (431)', async () => {
    const res = await h1Request(port, certA.certPem, '/big', { 'x-big': 'a'.repeat(16 * 1024) });
    expect(res.status).toBe(431);
  });

  it('refuses an h2 request whose headers exceed maxHeaderSize', async () => {
    const session = await connectH2(port, certA.certPem);
    sessions.push(session);
    const res = await h2Request(session, '/big', { 'x-big': 'a'.repeat(16 * 1024) });
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toMatchObject({ error: { type: 'header_too_large' } });
    // Just under the limit passes.
    expect((await h2Request(session, '/ok', { 'x-big': 'a'.repeat(6 * 1024) })).status).toBe(200);
  });

  it('carries more than six SSE streams at once on one h2 connection', async () => {
    const before = connections;
    releases.length = 0;
    const session = await connectH2(port, certA.certPem);
    sessions.push(session);
    const N = 10;
    const streams = Array.from({ length: N }, (_, i) => {
      const req = session.request({ ':path': `/sse/${i}`, accept: 'text/event-stream' });
      req.setEncoding('utf8');
      let text = '';
      const first = new Promise<string>((resolve) => req.once('data', (d: string) => resolve(d)));
      req.on('data', (d: string) => (text += d));
      const done = new Promise<string>((resolve, reject) => {
        req.on('end', () => resolve(text));
        req.on('error', reject);
      });
      req.end();
      return { first, done };
    });
    // Every stream delivers its first event while all of them are still open.
    const firsts = await within(Promise.all(streams.map((s) => s.first)), 'first events');
    firsts.forEach((d, i) => expect(d).toBe(`data: hello /sse/${i}\n\n`));
    expect(releases).toHaveLength(N);
    for (const r of releases.splice(0)) r();
    const bodies = await within(Promise.all(streams.map((s) => s.done)), 'stream ends');
    bodies.forEach((b, i) => expect(b).toBe(`data: hello /sse/${i}\n\ndata: bye\n\n`));
    expect(connections - before).toBe(1);
  });

  it('drops connection-specific headers instead of failing the h2 response', async () => {
    const session = await connectH2(port, certA.certPem);
    sessions.push(session);
    const res = await h2Request(session, '/hop-by-hop');
    expect(res.status).toBe(200);
    expect(res.body).toBe('fine');
    expect(res.headers['x-kept']).toBe('yes');
    expect(res.headers['x-also']).toBe('kept');
    for (const h of ['transfer-encoding', 'keep-alive', 'connection', 'upgrade', 'proxy-connection']) expect(res.headers[h]).toBeUndefined();
    // The same handler over HTTP/1.1 is untouched by the guard.
    const h1 = await h1Request(port, certA.certPem, '/hop-by-hop');
    expect(h1.headers['x-also']).toBe('kept');
    expect(h1.body).toBe('fine');
  });
});

describe('createHttpsServer without http2', () => {
  it('serves HTTP/1.1 only', async () => {
    const server = createHttpsServer(echoHandler, mat(certA), { http2: false });
    const port = await listen(server);
    try {
      const probe = await probeTls({ port, servername: 'localhost', ca: certA.certPem, ALPNProtocols: ['h2', 'http/1.1'] });
      expect(probe.ok && probe.alpn).not.toBe('h2');
      const res = await h1Request(port, certA.certPem, '/x');
      expect(JSON.parse(res.body)).toMatchObject({ protocol: 'http/1.1', url: '/x' });
    } finally {
      await close(server);
    }
  });
});

describe('reloadServerTls', () => {
  it('gives new connections the new certificate while open ones continue, and keeps the old on a bad pair', async () => {
    const server = createHttpsServer(echoHandler, mat(certA), { http2: true });
    const port = await listen(server);
    try {
      const open = await connectH2(port, certA.certPem);
      sessions.push(open);
      expect((await h2Request(open, '/before')).status).toBe(200);

      reloadServerTls(server, mat(certB));
      expect(await probeTls({ port, servername: 'localhost', ca: certB.certPem })).toMatchObject({ ok: true, fingerprint256: certB.fingerprint256 });
      expect(await probeTls({ port, servername: 'localhost', ca: certA.certPem })).toMatchObject({ ok: false, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
      // The connection that handshook with A is still served.
      expect(JSON.parse((await h2Request(open, '/after')).body)).toMatchObject({ url: '/after' });

      expect(() => reloadServerTls(server, { key: certA.keyPem, cert: certB.certPem })).toThrow();
      expect(await probeTls({ port, servername: 'localhost', ca: certB.certPem })).toMatchObject({ ok: true, fingerprint256: certB.fingerprint256 });
    } finally {
      await close(server);
    }
  });
});
