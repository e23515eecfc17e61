/**
 * Listener limits (spec §3 server.limits, reliability A.4 ): maxBodySize
 * (up front and mid-stream), maxHeaderSize, headersTimeout (slowloris), maxConnections.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStreamingUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay, openApiRoute } from '../helpers/relay.js';
import { rawRequest, tryParse, type RawResponse } from '../helpers/raw-request.js';

/** Opens a socket, writes `first`, optionally more later; collects everything until close. */
function openRaw(url: string) {
  const u = new URL(url);
  const sock = net.connect(Number(u.port), u.hostname);
  let buf = Buffer.alloc(0);
  let closedAt = 0;
  const closed = new Promise<void>((r) =>
    sock.on('close', () => {
      closedAt = performance.now();
      r();
    }),
  );
  sock.on('error', () => {});
  sock.on('data', (c: Buffer) => (buf = Buffer.concat([buf, c])));
  const connected = new Promise<void>((r) => sock.once('connect', () => r()));
  return {
    sock,
    connected,
    closed,
    closedAt: () => closedAt,
    data: () => buf,
    response: () => tryParse(buf),
    async waitResponse(ms = 3000): Promise<RawResponse> {
      const end = Date.now() + ms;
      for (;;) {
        const p = tryParse(buf) ?? (sock.destroyed ? tryParse(buf, true) : undefined);
        if (p) return p;
        if (Date.now() > end) throw new Error(`no response within ${ms}ms; got ${buf.toString('latin1').slice(0, 200)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

describe('limits', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  const completed: number[] = []; // body sizes of upstream requests that ended normally
  beforeAll(async () => {
    up = await startStreamingUpstream((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        completed.push(n);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(String(n));
      });
    });
    relay = await startTestRelay(`
server:
  limits:
    maxBodySize: 1kb
    maxHeaderSize: 2kb
    headersTimeout: 500ms
${openApiRoute(up.url)}`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('a body at the limit passes', async () => {
    const r = await rawRequest(relay.url, '/api/x', { method: 'POST', body: Buffer.alloc(1024, 'a') });
    expect(r.status).toBe(200);
    expect(completed.at(-1)).toBe(1024);
  });

  it('Content-Length over maxBodySize → 413 before the body is sent; upstream not called', async () => {
    const n = up.requests.length;
    const c = openRaw(relay.url);
    await c.connected;
    // Only the head: the relay must answer without waiting for (or reading) the body.
    c.sock.write(`POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n`);
    const r = await c.waitResponse();
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body.toString()).error.type).toBe('body_too_large');
    expect(r.headers.connection).toBe('close');
    c.sock.destroy();
    expect(up.requests.length).toBe(n);
  });

  it('a chunked body is cut with 413 as soon as it passes the limit; the upstream never gets it as complete', async () => {
    const before = completed.length;
    const c = openRaw(relay.url);
    await c.connected;
    c.sock.write(`POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    c.sock.write(`200\r\n${'a'.repeat(0x200)}\r\n`);
    c.sock.write(`400\r\n${'b'.repeat(0x400)}\r\n`); // 1536 bytes now: over 1kb
    // No terminating chunk: the relay must not wait for the end of the body to refuse it.
    const r = await c.waitResponse();
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body.toString()).error.type).toBe('body_too_large');
    c.sock.destroy();
    await new Promise((res) => setTimeout(res, 100));
    expect(completed.length).toBe(before);
  });

  it('a header over maxHeaderSize → 431, nothing forwarded', async () => {
    const n = up.requests.length;
    const r = await rawRequest(relay.url, '/api/x', { headers: { 'X-Big': 'a'.repeat(4096) } });
    expect(r.status).toBe(431);
    expect(up.requests.length).toBe(n);
  });

  // KNOWN BUG (reported): Node checks headersTimeout only every connectionsCheckingInterval
  // (default 30 s), so a slowloris socket lives up to 30 s past headersTimeout. Fix in
  // src/server/listen.ts: pass `connectionsCheckingInterval: Math.max(100, Math.min(1000,
  // Math.floor(limits.headersTimeout / 4)))` to http.createServer (and the HTTPS/h2 server).
  // Flip `it.fails` back to `it` when that lands.
  it('slowloris: half a request head → the socket is closed after headersTimeout (500ms)', async () => {
    const n = up.requests.length;
    const c = openRaw(relay.url);
    await c.connected;
    const t0 = performance.now();
    c.sock.write('GET /api/x HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const trickle = setInterval(() => !c.sock.destroyed && c.sock.write('a'), 100);
    try {
      await Promise.race([c.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('socket still open 2s after a 500ms headersTimeout')), 2000))]);
    } finally {
      clearInterval(trickle);
      c.sock.destroy();
    }
    expect(c.closedAt() - t0).toBeGreaterThanOrEqual(400);
    expect(up.requests.length).toBe(n);
  });
});

describe('maxConnections', () => {
  it('connections past the cap get 503; the ones inside it keep working', async () => {
    const up = await startStreamingUpstream((_req, res) => res.end('ok'));
    const relay = await startTestRelay(`
server:
  limits:
    maxConnections: 2
${openApiRoute(up.url)}`);
    const held: ReturnType<typeof openRaw>[] = [];
    try {
      // Two keep-alive connections that each completed a request: certainly accepted and counted.
      for (let i = 0; i < 2; i++) {
        const c = openRaw(relay.url);
        await c.connected;
        c.sock.write(`GET /health HTTP/1.1\r\nHost: x\r\n\r\n`);
        expect((await c.waitResponse()).status).toBe(200);
        held.push(c);
      }
      const third = await rawRequest(relay.url, '/api/x');
      expect(third.status).toBe(503);
      expect(JSON.parse(third.body.toString()).error.type).toBe('overloaded');
      expect(third.headers['retry-after']).toBeDefined();
      expect(up.requests.length).toBe(0);
      // A held connection still works.
      const c0 = held[0]!;
      const before = c0.data().length;
      c0.sock.write(`GET /api/x HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise<void>((resolve, reject) => {
        const end = Date.now() + 3000;
        const t = setInterval(() => {
          const p = tryParse(c0.data().subarray(before));
          if (p) {
            clearInterval(t);
            expect(p.status).toBe(200);
            resolve();
          } else if (Date.now() > end) {
            clearInterval(t);
            reject(new Error('held connection got no answer'));
          }
        }, 10);
      });
    } finally {
      for (const c of held) c.sock.destroy();
      await relay.close();
      await up.close();
    }
  });
});
