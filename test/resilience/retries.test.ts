/**
 * Retries: connect failures retry for any method (nothing reached the upstream); a connection
 * reset after the request was sent retries only idempotent, bodiless requests.
 */
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('retries', () => {
  let resets = 0;
  let seen: { method: string; url: string }[] = [];
  let flaky: http.Server;
  let relay: TestRelay;
  let latePort: number;
  let late: http.Server | undefined;

  beforeAll(async () => {
    // Resets the first connection of each request kind, answers the next one.
    flaky = http.createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url! });
      req.resume();
      if (req.url!.includes('reset') && resets++ % 2 === 0) return req.socket.destroy();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`ok ${req.method}`);
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    latePort = await freePort();
    relay = await startTestRelay(`
routes:
  - name: flaky
    prefix: /flaky
    upstream: http://127.0.0.1:${(flaky.address() as AddressInfo).port}
    auth: none
    retries: 2
  - name: late
    prefix: /late
    upstream: http://127.0.0.1:${latePort}
    auth: none
    retries: 6
  - name: never
    prefix: /never
    upstream: http://127.0.0.1:${latePort + 0}
    auth: none
    retries: 0
`);
  });
  afterAll(async () => {
    await relay?.close();
    flaky.closeAllConnections();
    await new Promise<void>((r) => flaky.close(() => r()));
    late?.closeAllConnections();
    await new Promise<void>((r) => (late ? late.close(() => r()) : r()));
  });

  it('a GET whose connection is reset is retried and succeeds', async () => {
    seen = [];
    resets = 0;
    const r = await fetch(`${relay.url}/flaky/reset-get`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('ok GET');
    expect(seen.filter((s) => s.url === '/reset-get')).toHaveLength(2);
  });

  it('a POST whose connection is reset after sending is NOT retried (502)', async () => {
    seen = [];
    resets = 0;
    const r = await fetch(`${relay.url}/flaky/reset-post`, { method: 'POST', body: 'x'.repeat(100) });
    expect(r.status).toBe(502);
    expect(((await r.json()) as { error: { type: string } }).error.type).toBe('upstream_unreachable');
    expect(seen.filter((s) => s.url === '/reset-post')).toHaveLength(1);
  });

  it('connection refused: no retries → 502 naming the upstream', async () => {
    const r = await fetch(`${relay.url}/never/x`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(502);
    const e = ((await r.json()) as { error: { type: string; message: string } }).error;
    expect(e.type).toBe('upstream_unreachable');
    expect(e.message).toBe(`upstream http://127.0.0.1:${latePort} is unreachable: connection refused`);
  });

  it('connection refused is retried with backoff for any method, until the upstream comes up', async () => {
    setTimeout(() => {
      late = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => res.end(`late got ${req.method} ${body}`));
      });
      late.listen(latePort, '127.0.0.1');
    }, 120);
    const r = await fetch(`${relay.url}/late/x`, { method: 'POST', body: 'payload' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('late got POST payload');
  });
});
