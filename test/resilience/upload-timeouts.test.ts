/**
 * Route `idleTimeout` and `timeout` cover the request body too (spec §3 "no byte either way", §5
 * `408 request_timeout`, issue #15 part 3). A body that stalls ends the exchange about
 * `idleTimeout` after its last byte; one that trickles but never completes ends at `timeout`.
 * Nothing answered yet → 408; the response already began → the connection is closed. Either way
 * the upstream request is aborted (it never sees a complete body), the access line says why, and
 * the relay keeps serving. Content-Length and chunked bodies; streamed and buffered (replay)
 * bodies; before and after the upstream's response headers.
 */
import net from 'node:net';
import type http from 'node:http';
import * as http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStreamingUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { rawRequest, tryParse, type RawResponse } from '../helpers/raw-request.js';
import { waitFor } from '../helpers/sse.js';
import { tempDir } from '../tls/pki.js';

const IDLE = 400;
const TOTAL = 800;

/** What the upstream saw of each request, by its path. */
interface Seen {
  bytes: number;
  complete: boolean;
  /** The relay's side of the upstream request went away before the body was complete. */
  aborted: boolean;
}

/** A raw client: write the head and parts of a body, then watch what the relay does. */
function openRaw(url: string) {
  const u = new URL(url);
  const sock = net.connect(Number(u.port), u.hostname);
  let buf = Buffer.alloc(0);
  let closedAt = 0;
  let lastWriteAt = 0;
  sock.on('error', () => {});
  sock.on('data', (c: Buffer) => (buf = Buffer.concat([buf, c])));
  sock.on('close', () => (closedAt = performance.now()));
  const connected = new Promise<void>((r) => sock.once('connect', () => r()));
  return {
    sock,
    connected,
    write(s: string) {
      lastWriteAt = performance.now();
      if (!sock.destroyed) sock.write(s);
    },
    lastWriteAt: () => lastWriteAt,
    closedAt: () => closedAt,
    /** The relay's answer once the socket closed (a 408, or a cut response with no complete body). */
    async ended(ms = 3000): Promise<{ response: RawResponse | undefined; raw: string; at: number }> {
      await waitFor(() => closedAt > 0, ms, 'the relay to close the connection');
      return { response: tryParse(buf, false), raw: buf.toString('latin1'), at: closedAt };
    },
  };
}

describe('upload timeouts', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  const seen = new Map<string, Seen>();

  beforeAll(async () => {
    up = await startStreamingUpstream((req: http.IncomingMessage, res: http.ServerResponse) => {
      const s: Seen = { bytes: 0, complete: false, aborted: false };
      seen.set(req.url!.split('?')[0]!, s);
      // /early/…: the upstream answers its headers before it has the body (some APIs do).
      if (req.url!.includes('/early')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.flushHeaders();
      }
      // /answer-early/…: a complete answer without reading the body (an API refusing the request).
      if (req.url!.includes('/answer-early')) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('refused early');
        return;
      }
      // /slow-reader/…: the upstream reads nothing for a while (the relay's backpressure pauses the client).
      if (req.url!.includes('/slow-reader')) {
        req.pause();
        setTimeout(() => req.resume(), IDLE * 3);
      }
      req.on('data', (c: Buffer) => (s.bytes += c.length));
      req.on('end', () => {
        s.complete = true;
        if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`got ${s.bytes}`);
      });
      req.on('aborted', () => (s.aborted = true));
      res.on('close', () => {
        if (!s.complete) s.aborted = true;
      });
    });
    relay = await startTestRelay(`
routes:
  - name: idle
    prefix: /idle
    upstream: ${up.url}
    auth: none
    idleTimeout: ${IDLE}ms
    retries: 0
  - name: total
    prefix: /total
    upstream: ${up.url}
    auth: none
    timeout: ${TOTAL}ms
    retries: 0
  - name: plain
    prefix: /plain
    upstream: ${up.url}
    auth: none
    retries: 0
  - name: buffered
    prefix: /buffered
    upstream: ${up.url}
    auth: none
    idleTimeout: ${IDLE}ms
    heartbeat: 10s
    retries: 0
  - name: budgeted
    prefix: /budgeted
    upstream: ${up.url}
    auth: none
    idleTimeout: ${IDLE}ms
    retries: 0
    budget:
      - { by: ip, tokens: 100k, per: day }
  - name: cached
    prefix: /cached
    upstream: ${up.url}
    auth: none
    idleTimeout: ${IDLE}ms
    retries: 0
    cache:
      paths: ["/v1/embeddings", "/slow-but-fine"]
      methods: [POST]
      ttl: 1m
`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  /** The access line of the exchange at `path`. */
  function accessLine(path: string): Record<string, unknown> | undefined {
    return relay.lines().find((l) => l.path === path && l.status !== undefined);
  }

  async function keepsServing(): Promise<void> {
    const r = await rawRequest(relay.url, '/idle/after', { method: 'POST', body: 'fine' });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('got 4');
  }

  /** Starts an upload on `path` (Content-Length or chunked) and sends its first part. */
  async function startUpload(path: string, chunked: boolean) {
    const c = openRaw(relay.url);
    await c.connected;
    const head = chunked ? 'Transfer-Encoding: chunked' : 'Content-Length: 1000';
    c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${head}\r\n\r\n`);
    c.write(chunked ? `a\r\n{"a":"bbbb\r\n` : '{"a":"bbbb');
    return c;
  }

  for (const chunked of [false, true]) {
    const kind = chunked ? 'chunked' : 'Content-Length';

    it(`${kind}: a body that stalls before the response → 408 about idleTimeout after its last byte; upstream aborted`, async () => {
      const path = `/idle/stall-${chunked ? 'chunked' : 'cl'}`;
      const c = await startUpload(path, chunked);
      await waitFor(() => (seen.get(path.slice('/idle'.length))?.bytes ?? 0) > 0, 2000, 'the first body bytes at the upstream');
      const { response, at } = await c.ended();
      const waited = at - c.lastWriteAt();
      expect(waited).toBeGreaterThanOrEqual(IDLE - 50);
      expect(waited).toBeLessThan(IDLE + 1000);
      expect(response?.status).toBe(408);
      const err = JSON.parse(response!.body.toString()).error;
      expect(err).toMatchObject({ type: 'request_timeout', message: `request body stalled for ${IDLE}ms (idleTimeout)`, route: 'idle' });
      expect(response!.headers.connection).toBe('close');
      const s = seen.get(path.slice('/idle'.length))!;
      await waitFor(() => s.aborted, 2000, 'the upstream request to be aborted');
      expect(s.complete).toBe(false);
      await waitFor(() => accessLine(path) !== undefined, 1000, 'the access line');
      expect(accessLine(path)).toMatchObject({ status: 408, outcome: `request body stalled for ${IDLE}ms (idleTimeout)` });
      await keepsServing();
    });

    it(`${kind}: a body that stalls after the upstream's early response headers → connection closed; upstream aborted`, async () => {
      const path = `/idle/early-${chunked ? 'chunked' : 'cl'}`;
      const c = await startUpload(path, chunked);
      await waitFor(() => (seen.get(path.slice('/idle'.length))?.bytes ?? 0) > 0, 2000, 'the first body bytes at the upstream');
      const { response, raw, at } = await c.ended();
      const waited = at - c.lastWriteAt();
      expect(waited).toBeGreaterThanOrEqual(IDLE - 50);
      expect(waited).toBeLessThan(IDLE + 1000);
      // The relay had begun the upstream's 200: the only honest signal left is a cut connection.
      expect(raw).not.toContain('got ');
      if (response) expect(response.status).toBe(200);
      const s = seen.get(path.slice('/idle'.length))!;
      await waitFor(() => s.aborted, 2000, 'the upstream request to be aborted');
      expect(s.complete).toBe(false);
      await waitFor(() => accessLine(path) !== undefined, 1000, 'the access line');
      expect(String(accessLine(path)!.outcome)).toBe(`stream cut: request body stalled for ${IDLE}ms (idleTimeout)`);
      await keepsServing();
    });

    it(`${kind}: a body that keeps trickling but never completes → 408 at the route's timeout`, async () => {
      const path = `/total/trickle-${chunked ? 'chunked' : 'cl'}`;
      const t0 = performance.now();
      const c = await startUpload(path, chunked);
      const drip = setInterval(() => c.write(chunked ? '1\r\nx\r\n' : 'x'), 100);
      try {
        const { response, at } = await c.ended();
        expect(at - t0).toBeGreaterThanOrEqual(TOTAL - 50);
        expect(at - t0).toBeLessThan(TOTAL + 1000);
        expect(response?.status).toBe(408);
        expect(JSON.parse(response!.body.toString()).error).toMatchObject({ type: 'request_timeout', message: `request body still arriving after ${TOTAL}ms (timeout)` });
      } finally {
        clearInterval(drip);
      }
      const s = seen.get(path.slice('/total'.length))!;
      await waitFor(() => s.aborted, 2000, 'the upstream request to be aborted');
      expect(s.complete).toBe(false);
      expect(accessLine(path)).toMatchObject({ status: 408, outcome: `request body still arriving after ${TOTAL}ms (timeout)` });
      await keepsServing();
    });
  }

  it('trickling after early response headers until the route timeout → connection closed', async () => {
    const path = '/total/early-trickle';
    const t0 = performance.now();
    const c = await startUpload(path, false);
    const drip = setInterval(() => c.write('x'), 100);
    try {
      const { raw, at } = await c.ended();
      expect(at - t0).toBeGreaterThanOrEqual(TOTAL - 50);
      expect(at - t0).toBeLessThan(TOTAL + 1000);
      expect(raw).not.toContain('got ');
    } finally {
      clearInterval(drip);
    }
    const s = seen.get(path.slice('/total'.length))!;
    await waitFor(() => s.aborted, 2000, 'the upstream request to be aborted');
    expect(s.complete).toBe(false);
    expect(String(accessLine(path)!.outcome)).toBe(`stream cut: request body still arriving after ${TOTAL}ms (timeout)`);
  });

  // A body the relay reads into memory before forwarding: kept for a replay or sniffed for
  // "stream": true (buffered), or read by the budget gate to size the hold (budgeted).
  for (const [route, path, why] of [
    ['buffered', '/buffered/stall', 'kept for a replay or sniffed for "stream": true'],
    ['budgeted', '/budgeted/v1/chat/completions', 'read by the budget gate to size the hold'],
    ['cached', '/cached/v1/embeddings', 'read by the response cache to key it'],
  ] as const) {
    it(`a body ${why} that stalls → 408; nothing reaches the upstream, nothing is charged`, async () => {
      const n = up.requests.length;
      const c = await startUpload(path, false);
      const { response, at } = await c.ended();
      expect(at - c.lastWriteAt()).toBeGreaterThanOrEqual(IDLE - 50);
      expect(at - c.lastWriteAt()).toBeLessThan(IDLE + 1000);
      expect(response?.status).toBe(408);
      expect(JSON.parse(response!.body.toString()).error).toMatchObject({ type: 'request_timeout', message: `request body stalled for ${IDLE}ms (idleTimeout)`, route });
      expect(up.requests.length).toBe(n);
      expect(accessLine(path)).toMatchObject({ status: 408, outcome: `request body stalled for ${IDLE}ms (idleTimeout)` });
      expect(accessLine(path)!.usage).toBeUndefined();
      await keepsServing();
    });
  }

  it('an upstream that answers before the body is complete: the client gets the answer, then the connection closes', async () => {
    const path = '/plain/answer-early';
    const c = await startUpload(path, false);
    const { response, at } = await c.ended(2000); // long before the route's idleTimeout (5m) or Node's keepAliveTimeout (5s)
    expect(response?.status).toBe(400);
    expect(response!.body.toString()).toBe('refused early');
    expect(at - c.lastWriteAt()).toBeLessThan(1500);
    await keepsServing();
  });

  it('an upstream that does not read for longer than idleTimeout is not a stalled client', async () => {
    const body = Buffer.alloc(8 * 1024 * 1024, 'x');
    const r = await rawRequest(relay.url, '/idle/slow-reader', { method: 'POST', body, timeoutMs: 4000 });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`got ${body.length}`);
  });

  // Streamed upstream (idle), and read into memory by the cache, which restarts the clock per chunk itself.
  it.each(['/idle/slow-but-fine', '/cached/slow-but-fine'])('a body whose gaps stay under idleTimeout completes normally: %s', async (path) => {
    const c = openRaw(relay.url);
    await c.connected;
    c.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\n`);
    for (const part of ['ab', 'cd', 'ef']) {
      await new Promise((r) => setTimeout(r, IDLE * 0.6));
      c.write(part);
    }
    const { response } = await c.ended();
    expect(response?.status).toBe(200);
    expect(response!.body.toString()).toBe('got 6');
  });
});

describe('upload timeouts over HTTP/2', () => {
  it('a stalled h2 upload → 408 and the stream is closed; the session keeps serving', async () => {
    const { dir, cleanup } = await tempDir();
    const seen: { url: string; complete: boolean; aborted: boolean }[] = [];
    const up = await startStreamingUpstream((req, res) => {
      const s = { url: req.url!, complete: false, aborted: false };
      seen.push(s);
      req.resume();
      req.on('end', () => {
        s.complete = true;
        res.end('done');
      });
      res.on('close', () => (s.aborted = !s.complete));
    });
    const relay = await startTestRelay(
      `
server:
  tls:
    cert: certs/cert.pem
    key: certs/key.pem
    selfSigned: true
    hosts: [localhost, 127.0.0.1]
routes:
  - name: idle
    prefix: /idle
    upstream: ${up.url}
    auth: none
    idleTimeout: ${IDLE}ms
    retries: 0
`,
      { dir },
    );
    const session = http2.connect(relay.url, { rejectUnauthorized: false, servername: 'localhost' } as http2.SecureClientSessionOptions);
    session.on('error', () => {});
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/idle/h2-stall', 'content-type': 'application/json' });
      let status = 0;
      let text = '';
      let closed = false;
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (d: Buffer) => (text += d.toString()));
      stream.on('error', () => {});
      stream.on('close', () => (closed = true));
      stream.write('{"a":"bbbb');
      await waitFor(() => closed, 3000, 'the relay to close the stalled stream');
      expect(status).toBe(408);
      expect(JSON.parse(text).error).toMatchObject({ type: 'request_timeout', message: `request body stalled for ${IDLE}ms (idleTimeout)` });
      await waitFor(() => seen[0]?.aborted === true, 2000, 'the upstream request to be aborted');
      // The same session still serves.
      const ok = session.request({ ':method': 'POST', ':path': '/idle/h2-after' });
      let okText = '';
      ok.on('data', (d: Buffer) => (okText += d.toString()));
      ok.end('fine');
      await waitFor(() => okText === 'done', 3000, 'a request after the stalled one');
    } finally {
      session.destroy();
      await relay.close();
      await up.close();
      await cleanup();
    }
  });
});
