/** firstByteTimeout, idleTimeout and timeout, each before and after the response began (spec §5). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { startStreamingUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

function get(url: string): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
        res.on('error', (e) => resolve({ status: res.statusCode!, body, error: e.message }));
        res.on('aborted', () => resolve({ status: res.statusCode!, body, error: 'aborted' }));
      })
      .on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
  });
}

describe('timeouts', () => {
  let up: FakeUpstream;
  let relay: TestRelay;

  beforeAll(async () => {
    up = await startStreamingUpstream((req, res) => {
      if (req.url === '/silent') return; // never answers
      if (req.url === '/stall-after-head') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        return; // then silence
      }
      if (req.url === '/slow-head') {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('late');
        }, 600);
        return;
      }
      if (req.url === '/long-stream') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const t = setInterval(() => res.write('data: tick\n\n'), 50);
        res.on('close', () => clearInterval(t));
        return;
      }
      res.writeHead(404).end();
    });
    relay = await startTestRelay(`
routes:
  - name: fb
    prefix: /fb
    upstream: ${up.url}
    auth: none
    firstByteTimeout: 300ms
    retries: 0
  - name: idle
    prefix: /idle
    upstream: ${up.url}
    auth: none
    idleTimeout: 300ms
    retries: 0
  - name: total
    prefix: /total
    upstream: ${up.url}
    auth: none
    timeout: 400ms
    retries: 0
`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('firstByteTimeout before the response → 504 upstream_timeout naming the upstream', async () => {
    const r = await get(`${relay.url}/fb/silent`);
    expect(r.status).toBe(504);
    const e = JSON.parse(r.body).error;
    expect(e.type).toBe('upstream_timeout');
    expect(e.message).toBe(`upstream ${up.url} sent no response headers within 300ms (firstByteTimeout)`);
    expect(e.route).toBe('fb');
  });

  it('idleTimeout after the response began → the stream is cut (not a clean end) and logged', async () => {
    const r = await get(`${relay.url}/idle/stall-after-head`);
    expect(r.status).toBe(200);
    expect(r.body).toContain('data: first');
    expect(r.error).toBeDefined();
    expect(relay.logs()).toMatch(/stream cut: upstream .* was idle for 300ms \(idleTimeout\)/);
  });

  it('timeout before the response → 504; after it began → cut', async () => {
    const before = await get(`${relay.url}/total/slow-head`);
    expect(before.status).toBe(504);
    expect(JSON.parse(before.body).error.message).toMatch(/did not finish within 400ms \(timeout\)/);
    const after = await get(`${relay.url}/total/long-stream`);
    expect(after.status).toBe(200);
    expect(after.body).toContain('data: tick');
    expect(after.error).toBeDefined();
  });

  it('a long generation lives on while bytes flow (idleTimeout is between bytes)', async () => {
    const ac = new AbortController();
    const r = await fetch(`${relay.url}/idle/long-stream`, { signal: ac.signal });
    const reader = r.body!.getReader();
    const start = Date.now();
    let got = 0;
    while (Date.now() - start < 900) {
      const { value, done } = await reader.read();
      if (done) break;
      got += value.length;
    }
    ac.abort();
    expect(Date.now() - start).toBeGreaterThanOrEqual(900); // outlived 3× the idle timeout
    expect(got).toBeGreaterThan(0);
  });
});
