/**
 * §13 bounds: entries over maxEntrySize stream through unstored (JSON and SSE); request bodies
 * over it are not keyed (BYPASS); the memory store evicts least recently used entries by bytes;
 * TTLs and the client's X-Relay-Cache-TTL (clamped to maxTtl) run on an injected clock.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { startRelay, type Relay } from '../../src/relay.js';
import { call, countingUpstream, WEB, type CountingUpstream } from './helpers.js';

async function relayWithClock(yaml: string, now: () => number): Promise<Relay> {
  const loaded = parseConfigText(yaml, 'test.yaml', { env: {} });
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  return startRelay(loaded, { logDestination: sink, host: '127.0.0.1', port: 0, env: {}, logLevel: 'error', cacheClock: now });
}

describe('response cache: sizes, eviction and time', () => {
  let up: CountingUpstream;
  let clock = 1_700_000_000_000;
  let relay: Relay;

  beforeAll(async () => {
    up = await countingUpstream();
    relay = await relayWithClock(
      `clients: { web: tok-web }
cache: { maxSize: 3000, maxEntrySize: 1000 }
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}
    auth: [web]
    cache:
      paths: ["/size/*", "/echo"]
      methods: [GET, POST]
      ttl: 10s
      maxTtl: 20s
`,
      () => clock,
    );
  });
  afterAll(async () => {
    await relay.close(1000);
    await up.close();
  });
  beforeEach(() => {
    up.calls.length = 0;
    // /size/<n>: a JSON answer of n bytes; /size/sse-<n>: a stream of about n bytes.
    up.handler = (req, res, body) => {
      const m = /^\/size\/(sse-)?(\d+)/.exec(req.url!);
      if (m && m[1]) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const ev = `data: {"pad":"${'x'.repeat(90)}"}\n\n`;
        for (let i = 0; i < Number(m[2]) / ev.length; i++) res.write(ev);
        res.end('data: [DONE]\n\n');
      } else if (m) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ pad: 'x'.repeat(Math.max(0, Number(m[2]) - 10)) }).slice(0, Number(m[2])));
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ body, t: clock }));
    };
  });

  const get = (p: string, headers: Record<string, string> = {}) => call(relay.url, '/api' + p, { headers: { ...WEB, ...headers } });

  it('an answer over maxEntrySize streams through whole, unstored (JSON and SSE)', async () => {
    const a = await get('/size/1500');
    expect(a.body.length).toBe(1500);
    expect((await get('/size/1500')).headers['x-relay-cache']).toBe('MISS');
    const s = await get('/size/sse-3000');
    expect(s.body.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(s.body.length).toBeGreaterThan(3000);
    expect((await get('/size/sse-3000')).headers['x-relay-cache']).toBe('MISS');
    expect(up.count()).toBe(4);
  });

  it('a request body over maxEntrySize is not keyed: BYPASS, relayed whole', async () => {
    const big = JSON.stringify({ input: 'y'.repeat(2000) });
    const a = await call(relay.url, '/api/echo', { headers: WEB, body: big });
    expect(a.headers['x-relay-cache']).toBe('BYPASS');
    expect(JSON.parse(a.body).body).toBe(big);
    // Chunked (no Content-Length): read up to the limit, then streamed on, nothing lost.
    const b = await call(relay.url, '/api/echo', { headers: { ...WEB, 'transfer-encoding': 'chunked' }, body: big });
    expect(b.headers['x-relay-cache']).toBe('BYPASS');
    expect(JSON.parse(b.body).body).toBe(big);
  });

  it('evicts the least recently used entry when maxSize (bytes) is reached', async () => {
    await get('/size/950?k=a');
    await get('/size/950?k=b');
    expect((await get('/size/950?k=a')).headers['x-relay-cache']).toBe('HIT'); // a is now the most recent
    await get('/size/950?k=c'); // 3 × ~1030 bytes > 3000 with headers: b goes
    expect((await get('/size/950?k=a')).headers['x-relay-cache']).toBe('HIT');
    expect((await get('/size/950?k=c')).headers['x-relay-cache']).toBe('HIT');
    expect((await get('/size/950?k=b')).headers['x-relay-cache']).toBe('MISS');
    const text = await relay.metrics.text();
    expect(text).toMatch(/ai_relay_cache_evictions_total [1-9]/);
    const bytes = Number(/ai_relay_cache_bytes (\d+)/.exec(text)![1]);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(3000);
  });

  it('expires entries after ttl; Age counts whole seconds', async () => {
    await get('/size/100?t=1');
    clock += 5_500;
    const h = await get('/size/100?t=1');
    expect(h.headers['x-relay-cache']).toBe('HIT');
    expect(h.headers.age).toBe('5');
    clock += 5_000;
    expect((await get('/size/100?t=1')).headers['x-relay-cache']).toBe('MISS');
  });

  it('X-Relay-Cache-TTL sets the store TTL, clamped to maxTtl', async () => {
    await get('/size/100?t=long', { 'x-relay-cache-ttl': '3600' });
    clock += 19_000;
    expect((await get('/size/100?t=long')).headers['x-relay-cache']).toBe('HIT');
    clock += 2_000;
    expect((await get('/size/100?t=long')).headers['x-relay-cache']).toBe('MISS'); // clamped to 20 s
    await get('/size/100?t=short', { 'x-relay-cache-ttl': '2' });
    clock += 2_500;
    expect((await get('/size/100?t=short')).headers['x-relay-cache']).toBe('MISS');
    await get('/size/100?t=zero', { 'x-relay-cache-ttl': '0' });
    expect((await get('/size/100?t=zero')).headers['x-relay-cache']).toBe('MISS');
  });
});
