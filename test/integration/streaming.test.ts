/**
 * Streaming (spec §4 step 8, reliability A.4 ): SSE reaches the client event by
 * event, large request bodies stream through intact, a client abort cancels the upstream
 * request, an upstream that dies mid-body gives the client a broken stream, never a clean end.
 * Incrementality is proven by ordering (the upstream holds its later events until the client saw
 * the first), not by timing thresholds.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStreamingUpstream, startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { gate, sleep, sseEvent, sseHead } from '../helpers/sse.js';

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`timed out after ${ms}ms: ${what}`)), ms))]);

describe('streaming', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  let firstSeen = gate();
  const marks: Record<string, number> = {};
  const bodyHashes: { hash: string; bytes: number }[] = [];

  beforeAll(async () => {
    up = await startStreamingUpstream((req, res) => {
      const url = req.url!;
      if (url === '/sse') {
        // Holds events 2.. until the client has seen event 1: buffering anywhere would deadlock.
        sseHead(res);
        res.write(sseEvent('{"n":1}'));
        marks.firstWritten = performance.now();
        void firstSeen.wait.then(async () => {
          for (let n = 2; n <= 4; n++) {
            await sleep(20);
            res.write(sseEvent(`{"n":${n}}`));
          }
          res.write(sseEvent('[DONE]'));
          marks.lastWritten = performance.now();
          res.end();
        });
        return;
      }
      if (url === '/forever') {
        sseHead(res);
        res.write(sseEvent('{"n":1}'));
        const t = setInterval(() => res.write(': keep-alive\n\n'), 100);
        res.on('close', () => clearInterval(t));
        return;
      }
      if (url === '/die-sse') {
        sseHead(res);
        res.write(sseEvent('{"n":1}'));
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      if (url === '/die-length') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"partial":');
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      if (url === '/upload') {
        const h = createHash('sha256');
        let bytes = 0;
        req.on('data', (c: Buffer) => {
          h.update(c);
          bytes += c.length;
        });
        req.on('end', () => {
          bodyHashes.push({ hash: h.digest('hex'), bytes });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ bytes }));
        });
        return;
      }
      res.writeHead(404);
      res.end();
    });
    relay = await startTestRelay(`
routes:
  - name: s
    prefix: /s
    upstream: ${up.url}
    auth: none
    retries: 0
`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('SSE: the client gets the first event before the upstream wrote the last; no-cache, no-transform; X-Accel-Buffering: no', async () => {
    firstSeen = gate();
    const r = await fetch(`${relay.url}/s/sse`, { headers: { accept: 'text/event-stream' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(r.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(r.headers.get('x-accel-buffering')).toBe('no');
    expect(r.headers.get('content-length')).toBeNull();
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    let firstReceived = 0;
    const read = async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += dec.decode(value, { stream: true });
        if (!firstReceived && text.includes('{"n":1}')) {
          firstReceived = performance.now();
          firstSeen.open();
        }
      }
    };
    await withTimeout(read(), 5000, 'the first event never arrived before the upstream finished (buffered?)');
    expect(firstReceived).toBeGreaterThan(0);
    expect(marks.lastWritten).toBeGreaterThan(firstReceived);
    expect(text).toBe(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '[DONE]'].map(sseEvent).join(''));
  });

  it('a 20 MB streamed (chunked) request body reaches the upstream intact', async () => {
    const total = 20 * 1024 * 1024;
    const chunk = 64 * 1024;
    const h = createHash('sha256');
    let made = 0;
    let seed = 1;
    const src = new Readable({
      read() {
        if (made >= total) return void this.push(null);
        const b = Buffer.allocUnsafe(chunk);
        for (let i = 0; i < chunk; i += 4) b.writeUInt32LE((seed = (seed * 1103515245 + 12345) >>> 0), i);
        made += chunk;
        h.update(b);
        this.push(b);
      },
    });
    const u = new URL(relay.url);
    const res = await withTimeout(
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: u.hostname, port: u.port, path: '/s/upload', method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        src.pipe(req);
      }),
      15000,
      'upload',
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ bytes: total });
    expect(bodyHashes.at(-1)).toEqual({ hash: h.digest('hex'), bytes: total });
  });

  it('a client abort mid-stream closes the upstream request within a second', async () => {
    const n = up.requests.length;
    const ac = new AbortController();
    const r = await fetch(`${relay.url}/s/forever`, { signal: ac.signal });
    const reader = r.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain('{"n":1}');
    expect(up.requests.length).toBe(n + 1);
    const rec = up.requests.at(-1)!;
    ac.abort();
    await withTimeout(rec.closed, 1000, 'upstream request still open 1s after the client went away');
  });

  it.each([
    ['an SSE stream', '/s/die-sse', '{"n":1}'],
    ['a Content-Length body', '/s/die-length', '{"partial":'],
  ])('the upstream dying mid-body (%s) gives the client a broken stream, not a clean end', async (_what, path, firstBytes) => {
    const r = await fetch(`${relay.url}${path}`);
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    let text = '';
    const outcome = await withTimeout(
      (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return 'clean end';
            text += new TextDecoder().decode(value);
          }
        } catch {
          return 'error';
        }
      })(),
      5000,
      'stream neither ended nor failed',
    );
    expect(text).toContain(firstBytes);
    expect(outcome).toBe('error');
  });

  it('the access log records the cut stream', async () => {
    const lines = relay.lines().filter((l) => l.path === '/s/die-sse');
    expect(lines.length).toBeGreaterThan(0);
    expect(String(lines.at(-1)!.outcome)).toMatch(/stream cut|closed/);
  });
});

describe('streaming upstream response with a small upload (sanity)', () => {
  it('POST body and response both stream', async () => {
    const up = await startUpstream((_req, res, rec) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(rec.body.toString().toUpperCase());
    });
    const relay = await startTestRelay(`
routes:
  - name: s
    prefix: /s
    upstream: ${up.url}
    auth: none
`);
    try {
      const r = await fetch(`${relay.url}/s/echo`, { method: 'POST', body: 'hello' });
      expect(await r.text()).toBe('HELLO');
    } finally {
      await relay.close();
      await up.close();
    }
  });
});
