/**
 * server.limits.maxConnections (spec §3, §5 `503 overloaded`, issue #15 part 2): with the cap
 * reached by connections that each hold a request open, further connections are answered at once
 * (plain HTTP: 503 `overloaded`; TLS: closed before any handshake), never queued, and nothing they
 * send reaches the upstream. The relay serves again as soon as a connection closes; a reload
 * changes the cap for the next connection.
 */
import net from 'node:net';
import tls from 'node:tls';
import * as http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { startStreamingUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { openApiRoute, startTestRelay, type TestRelay } from '../helpers/relay.js';
import { rawRequest, tryParse, type RawResponse } from '../helpers/raw-request.js';
import { gate, waitFor } from '../helpers/sse.js';
import { tempDir } from '../tls/pki.js';

/** A keep-alive connection that sent one request and waits for its answer. */
interface Held {
  sock: net.Socket;
  response(ms?: number): Promise<RawResponse>;
}

function hold(url: string, target: string): Promise<Held> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => (buf = Buffer.concat([buf, c])));
    sock.on('error', reject);
    sock.once('connect', () => {
      sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      resolve({
        sock,
        async response(ms = 3000) {
          await waitFor(() => tryParse(buf) !== undefined, ms, `a response on a held connection to ${target}`);
          return tryParse(buf)!;
        },
      });
    });
  });
}

/** An upstream that holds every request until `release()`; it records each one on arrival. */
async function holdingUpstream() {
  const g = gate();
  const up = await startStreamingUpstream((_req, res) => {
    void g.wait.then(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  return { up, release: g.open };
}

/** Asserts the upstream count stays at `n` for `ms` (a forwarded request would show up well within it). */
async function staysAt(up: FakeUpstream, n: number, ms = 300): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    expect(up.requests.length).toBe(n);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Repeats `attempt` until `ok` (bounded): the relay sees a client's FIN a moment after it was sent. */
async function retryUntil<T>(attempt: () => Promise<T>, ok: (v: T) => boolean, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await attempt();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('maxConnections over plain HTTP', () => {
  it('50 connections hold requests: the 51st and later get 503 overloaded at once, nothing reaches the upstream; serving resumes when one closes', async () => {
    const CAP = 50;
    const { up, release } = await holdingUpstream();
    cleanups.push(() => up.close(), release);
    const relay = await startTestRelay(`
server:
  limits:
    maxConnections: ${CAP}
${openApiRoute(up.url)}`);
    cleanups.push(() => relay.close());
    const held: Held[] = [];
    cleanups.push(() => held.forEach((h) => h.sock.destroy()));
    for (let i = 0; i < CAP; i++) held.push(await hold(relay.url, `/api/held/${i}`));
    await waitFor(() => up.requests.length === CAP, 3000, `${CAP} requests at the upstream`);

    // Over the cap: answered while the held requests are still open (not queued behind them).
    const over = await Promise.all(Array.from({ length: 5 }, (_, i) => rawRequest(relay.url, `/api/over/${i}`, { method: 'POST', body: '{"x":1}', timeoutMs: 2000 })));
    for (const r of over) {
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      const err = JSON.parse(r.body.toString()).error;
      expect(err.type).toBe('overloaded');
      expect(err.message).toContain('maxConnections');
    }
    await staysAt(up, CAP);
    expect(up.requests.some((r) => r.url.startsWith('/over'))).toBe(false);
    expect(relay.logs()).toContain('server.limits.maxConnections (50) refused');

    // The held exchanges complete normally.
    release();
    for (const h of held.slice(0, 3)) expect((await h.response()).status).toBe(200);

    // One connection closes: the next one is served (polled: the relay sees the FIN a moment later).
    held[0]!.sock.destroy();
    const next = await retryUntil(() => rawRequest(relay.url, '/api/again'), (r) => r.status === 200);
    expect(next.status).toBe(200);
    expect(up.requests.filter((r) => r.url === '/again')).toHaveLength(1);
  });

  it('a reload changes the cap for the next connection', async () => {
    const { up, release } = await holdingUpstream();
    cleanups.push(() => up.close(), release);
    const yaml = (cap: number) => `
server:
  limits:
    maxConnections: ${cap}
${openApiRoute(up.url)}`;
    const relay = await startTestRelay(yaml(2));
    cleanups.push(() => relay.close());
    const held: Held[] = [];
    cleanups.push(() => held.forEach((h) => h.sock.destroy()));
    for (let i = 0; i < 2; i++) held.push(await hold(relay.url, `/api/held/${i}`));
    await waitFor(() => up.requests.length === 2, 3000, 'two requests at the upstream');
    expect((await rawRequest(relay.url, '/api/over')).status).toBe(503);

    await relay.relay.reload(parseConfigText(yaml(3), 'test.yaml', { env: {} }));
    held.push(await hold(relay.url, '/api/third'));
    await waitFor(() => up.requests.length === 3, 3000, 'the third connection forwarded after the cap was raised');
    expect((await rawRequest(relay.url, '/api/over')).status).toBe(503);
    release();
    expect((await held[2]!.response()).status).toBe(200);
  });
});

describe('maxConnections over TLS (HTTP/2 and HTTP/1.1)', () => {
  /** Resolves 'handshake' when the TLS handshake completed, 'closed' when the socket closed first. */
  function tlsAttempt(port: number, alpn: string): Promise<'handshake' | 'closed'> {
    return new Promise((resolve) => {
      const s = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: [alpn] });
      s.on('secureConnect', () => {
        s.destroy();
        resolve('handshake');
      });
      s.on('error', () => {});
      s.on('close', () => resolve('closed'));
    });
  }

  function h2Session(url: string): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const s = http2.connect(url, { rejectUnauthorized: false, servername: 'localhost' } as http2.SecureClientSessionOptions);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
      s.once('close', () => reject(new Error('h2 session closed before connecting')));
    });
  }

  it('sessions count as connections: past the cap a connection is closed before the handshake and nothing reaches the upstream', async () => {
    const CAP = 6;
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const { up, release } = await holdingUpstream();
    cleanups.push(() => up.close(), release);
    const relay: TestRelay = await startTestRelay(
      `
server:
  tls:
    cert: certs/cert.pem
    key: certs/key.pem
    selfSigned: true
    hosts: [localhost, 127.0.0.1]
  limits:
    maxConnections: ${CAP}
${openApiRoute(up.url)}`,
      { dir },
    );
    cleanups.push(() => relay.close());
    const port = Number(new URL(relay.url).port);
    const sessions: http2.ClientHttp2Session[] = [];
    cleanups.push(() => sessions.forEach((s) => s.destroy()));
    // CAP h2 sessions, each with two streams held open at the upstream.
    for (let i = 0; i < CAP; i++) {
      const s = await h2Session(relay.url);
      sessions.push(s);
      for (let j = 0; j < 2; j++) s.request({ ':path': `/api/held/${i}/${j}` }).on('error', () => {}).end();
    }
    await waitFor(() => up.requests.length === CAP * 2, 3000, `${CAP * 2} streams at the upstream`);

    expect(await tlsAttempt(port, 'h2')).toBe('closed');
    expect(await tlsAttempt(port, 'http/1.1')).toBe('closed');
    await expect(h2Session(relay.url)).rejects.toThrow();
    await staysAt(up, CAP * 2);

    // One session ends: the next connection gets its handshake and its request is forwarded.
    sessions.shift()!.destroy();
    const s = await retryUntil(() => h2Session(relay.url).catch(() => undefined), (v) => v !== undefined);
    if (!s) throw new Error('no h2 session accepted after one closed');
    sessions.push(s);
    s.request({ ':path': '/api/after' }).on('error', () => {}).end();
    await waitFor(() => up.requests.some((r) => r.url === '/after'), 3000, 'the request after a session closed');
  });
});
