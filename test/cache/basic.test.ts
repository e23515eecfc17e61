/**
 * §13 basics over real sockets: MISS then HIT with Age and the current request's headers, the
 * key's sensitivity (and insensitivity), scopes, what is never stored, client controls.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { cachedRoute, call, countingUpstream, MOBILE, WEB, type CountingUpstream } from './helpers.js';

describe('response cache: basics', () => {
  let up: CountingUpstream;
  let relay: TestRelay;

  beforeAll(async () => {
    up = await countingUpstream();
    relay = await startTestRelay(
      cachedRoute(
        up.url,
        `      paths: ["/v1/embeddings", "/v1/models", "/v1/models/*", "/v1/chat/completions"]
      methods: [GET, POST]
      ttl: 10m
      maxTtl: 1h
      headers: [openai-beta]`,
        `    rateLimit: { requests: 1000, per: 1m }
    cors: { origins: ["https://a.example", "https://b.example"] }
`,
      ),
    );
  });
  afterAll(async () => {
    await relay.close();
    await up.close();
  });
  beforeEach(() => {
    up.calls.length = 0;
    up.handler = (req, res, body) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-remaining-requests': '42', 'x-request-id': 'upstream-id' });
      res.end(JSON.stringify({ n: up.calls.length, url: req.url, body }));
    };
  });

  it('answers the second identical request from the cache, with Age and HIT', async () => {
    const a = await call(relay.url, '/api/v1/models', { headers: WEB });
    expect(a.status).toBe(200);
    expect(a.headers['x-relay-cache']).toBe('MISS');
    const b = await call(relay.url, '/api/v1/models', { headers: WEB });
    expect(b.headers['x-relay-cache']).toBe('HIT');
    expect(b.headers.age).toMatch(/^\d+$/);
    expect(b.body).toBe(a.body);
    expect(up.count()).toBe(1);
  });

  it('hits carry the current request id, CORS and rate-limit headers, never the stored ones', async () => {
    await call(relay.url, '/api/v1/models/x', { headers: { ...WEB, origin: 'https://a.example', 'x-request-id': 'first-1' } });
    const b = await call(relay.url, '/api/v1/models/x', { headers: { ...WEB, origin: 'https://b.example', 'x-request-id': 'second-2' } });
    expect(b.headers['x-relay-cache']).toBe('HIT');
    expect(b.headers['x-request-id']).toBe('second-2');
    expect(b.headers['access-control-allow-origin']).toBe('https://b.example');
    expect(b.headers['access-control-expose-headers']).toMatch(/X-Relay-Cache/);
    expect(b.headers['access-control-expose-headers']).toMatch(/\bAge\b/);
    expect(b.headers['ratelimit-remaining']).toBeDefined();
    expect(b.headers['x-ratelimit-remaining-requests']).toBeUndefined();
    expect(b.headers['content-type']).toBe('application/json');
    expect(up.count()).toBe(1);
  });

  it('preflight allows Cache-Control and X-Relay-Cache-TTL and never touches the cache', async () => {
    const p = await call(relay.url, '/api/v1/models', { method: 'OPTIONS', headers: { origin: 'https://a.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'cache-control, x-relay-cache-ttl, x-proxy-token' } });
    expect(p.status).toBe(204);
    expect(String(p.headers['access-control-allow-headers']).toLowerCase()).toContain('x-relay-cache-ttl');
    expect(p.headers['x-relay-cache']).toBeUndefined();
    expect(up.count()).toBe(0);
  });

  it('keeps clients apart (scope client) and refuses a bad token before any lookup', async () => {
    await call(relay.url, '/api/v1/models/scoped', { headers: WEB });
    const other = await call(relay.url, '/api/v1/models/scoped', { headers: MOBILE });
    expect(other.headers['x-relay-cache']).toBe('MISS');
    expect(up.count()).toBe(2);
    const bad = await call(relay.url, '/api/v1/models/scoped', { headers: { 'x-proxy-token': 'nope' } });
    expect(bad.status).toBe(401);
    expect(bad.headers['x-relay-cache']).toBeUndefined();
  });

  it('key: model, temperature, path, query and a listed header change it; key order and whitespace do not', async () => {
    const post = (body: string, headers: Record<string, string> = {}, path = '/api/v1/chat/completions') => call(relay.url, path, { headers: { ...WEB, ...headers }, body });
    expect((await post('{"model":"a","temperature":0}')).headers['x-relay-cache']).toBe('MISS');
    expect((await post('{ "temperature" : 0,\n  "model":"a" }')).headers['x-relay-cache']).toBe('HIT');
    expect((await post('{"model":"b","temperature":0}')).headers['x-relay-cache']).toBe('MISS');
    expect((await post('{"model":"a","temperature":1}')).headers['x-relay-cache']).toBe('MISS');
    expect((await post('{"model":"a","temperature":0}', {}, '/api/v1/embeddings')).headers['x-relay-cache']).toBe('MISS');
    expect((await post('{"model":"a","temperature":0}', {}, '/api/v1/chat/completions?x=1')).headers['x-relay-cache']).toBe('MISS');
    expect((await post('{"model":"a","temperature":0}', { 'openai-beta': 'assistants=v2' })).headers['x-relay-cache']).toBe('MISS');
    // An unlisted header is not keyed: it cannot plant a different answer under someone's key.
    expect((await post('{"model":"a","temperature":0}', { 'x-unlisted': 'evil' })).headers['x-relay-cache']).toBe('HIT');
    expect(up.count()).toBe(6);
  });

  it('paths not listed and methods not listed are not cached and carry no status header', async () => {
    const a = await call(relay.url, '/api/v1/other', { headers: WEB });
    const b = await call(relay.url, '/api/v1/other', { headers: WEB });
    expect(a.headers['x-relay-cache']).toBeUndefined();
    expect(b.headers['x-relay-cache']).toBeUndefined();
    const d = await call(relay.url, '/api/v1/models', { method: 'DELETE', headers: WEB });
    expect(d.headers['x-relay-cache']).toBeUndefined();
    expect(up.count()).toBe(3);
  });

  it('never stores non-200, upstream no-store or private, an answer with Set-Cookie, or an HTML page', async () => {
    const cases: [string, (res: import('node:http').ServerResponse) => void][] = [
      ['/v1/models/e400', (res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{}}')],
      ['/v1/models/e429', (res) => res.writeHead(429, { 'content-type': 'application/json' }).end('{"error":{}}')],
      ['/v1/models/e500', (res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{}}')],
      ['/v1/models/nostore', (res) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end('{}')],
      ['/v1/models/private', (res) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'private, max-age=60' }).end('{}')],
      ['/v1/models/cookie', (res) => res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'sid=secret' }).end('{}')],
      ['/v1/models/html', (res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html>captive portal</html>')],
    ];
    up.handler = (req, res) => cases.find(([p]) => req.url === p)![1](res);
    for (const [p] of cases) {
      await call(relay.url, '/api' + p, { headers: WEB });
      const again = await call(relay.url, '/api' + p, { headers: WEB });
      expect(again.headers['x-relay-cache'], p).toBe('MISS');
      expect(again.headers['set-cookie']).toBeUndefined();
    }
    expect(up.count()).toBe(cases.length * 2);
  });

  it('client controls: no-store bypasses, no-cache refreshes (and stores), max-age bounds the age', async () => {
    const p = '/api/v1/models/controls';
    expect((await call(relay.url, p, { headers: { ...WEB, 'cache-control': 'no-store' } })).headers['x-relay-cache']).toBe('BYPASS');
    expect((await call(relay.url, p, { headers: WEB })).headers['x-relay-cache']).toBe('MISS'); // no-store stored nothing
    expect(up.count()).toBe(2);
    const r = await call(relay.url, p, { headers: { ...WEB, 'cache-control': 'no-cache' } });
    expect(r.headers['x-relay-cache']).toBe('REFRESH');
    expect(up.count()).toBe(3);
    const hit = await call(relay.url, p, { headers: WEB });
    expect(hit.headers['x-relay-cache']).toBe('HIT');
    expect(hit.body).toBe(r.body); // the refreshed answer replaced the old one
    expect((await call(relay.url, p, { headers: { ...WEB, 'cache-control': 'max-age=60' } })).headers['x-relay-cache']).toBe('HIT');
    await new Promise((res) => setTimeout(res, 20));
    expect((await call(relay.url, p, { headers: { ...WEB, 'cache-control': 'max-age=0' } })).headers['x-relay-cache']).toBe('MISS');
    expect(up.count()).toBe(4);
  });

  it('logs the cache result and counts it in metrics', async () => {
    await call(relay.url, '/api/v1/models/logged', { headers: WEB });
    await call(relay.url, '/api/v1/models/logged', { headers: WEB });
    const lines = relay.lines().filter((l) => l.path === '/api/v1/models/logged');
    expect(lines.map((l) => l.cache)).toEqual(['miss', 'hit']);
    const text = await relay.relay.metrics.text();
    expect(text).toMatch(/ai_relay_cache_requests_total\{route="api",result="hit"\} [1-9]/);
    expect(text).toMatch(/ai_relay_cache_entries [1-9]/);
  });
});
