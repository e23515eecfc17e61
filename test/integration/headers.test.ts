/**
 * Header rewriting (spec §4 steps 1, 7, 9, 11; §10 "Client addresses", "Request ids"):
 * client-address headers, forwardClientIp, forwardPrefix, headers.set/remove with variables,
 * upstream Set-Cookie/Alt-Svc, Location rewriting, redirects not followed, X-Request-Id, Server-Timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { rawRequest } from '../helpers/raw-request.js';

describe('headers', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream((req, res) => {
      const u = req.url!;
      const base = `http://127.0.0.1:${up.port}`;
      if (u.startsWith('/v1/cookie')) {
        res.writeHead(200, { 'set-cookie': ['a=1; Path=/', 'b=2'], 'alt-svc': 'h3=":443"; ma=86400', 'x-upstream': 'yes', 'content-type': 'text/plain' });
        return void res.end('cookie');
      }
      if (u.startsWith('/v1/redirect-abs')) {
        res.writeHead(302, { location: `${base}/v1/next?x=1` });
        return void res.end();
      }
      if (u.startsWith('/v1/redirect-root')) {
        res.writeHead(301, { location: '/v1/other' });
        return void res.end();
      }
      if (u.startsWith('/v1/redirect-foreign')) {
        res.writeHead(307, { location: 'https://other.example/v1/x' });
        return void res.end();
      }
      if (u.startsWith('/v1/created')) {
        res.writeHead(201, { location: `${base}/v1/items/7`, 'content-type': 'application/json' });
        return void res.end('{}');
      }
      if (u.startsWith('/v1/own-headers')) {
        // An upstream that sets headers the relay owns: the relay's values must replace them, once.
        res.writeHead(200, {
          'x-request-id': 'upstream-id',
          'access-control-allow-origin': '*',
          'access-control-expose-headers': 'X-Upstream-Secret',
          vary: 'Accept-Encoding',
          'x-upstream': 'kept',
          'content-type': 'text/plain',
        });
        return void res.end('own');
      }
      if (u.startsWith('/v1/proto')) {
        // Twice: undici then makes the value an array, and assigning it to `__proto__` gives
        // its header object an array prototype.
        res.setHeader('__proto__', ['a', 'b']);
        res.setHeader('content-type', 'text/plain');
        return void res.end('proto');
      }
      if (u.startsWith('/v1/timing')) {
        res.writeHead(200, { 'server-timing': 'db;dur=3' });
        return void res.end('t');
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
    relay = await startTestRelay(
      `
server:
  basePaths: ["/", "/r"]
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}/v1
    auth: none
    forwardPrefix: true
    headers:
      set:
        X-Api-Key: key-\${UP_KEY}
        X-Static: static
      remove: [Cookie, X-Drop-Me]
  - name: cors
    prefix: /cors
    upstream: ${up.url}/v1
    auth: none
    cors:
      origins: ["https://app.example"]
  - name: fwd
    prefix: /fwd
    upstream: ${up.url}/v1
    auth: none
    forwardClientIp: true
`,
      { env: { UP_KEY: 'sekrit-123' } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  const last = () => up.requests.at(-1)!;

  it.each([
    ['X-Forwarded-For', '203.0.113.9'],
    ['X-Forwarded-Host', 'spoof.example'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Real-IP', '203.0.113.9'],
    ['Forwarded', 'for=203.0.113.9;proto=https'],
    ['CF-Connecting-IP', '203.0.113.9'],
    ['True-Client-IP', '203.0.113.9'],
  ])('client-address header %s is dropped by default', async (name, value) => {
    const r = await fetch(`${relay.url}/api/x`, { headers: { [name]: value } });
    expect(r.status).toBe(200);
    expect(last().headers[name.toLowerCase()]).toBeUndefined();
    expect(JSON.stringify(last().rawHeaders)).not.toContain(value);
  });

  it('forwardClientIp: X-Forwarded-For is the socket address; a client XFF is replaced (trustProxy false)', async () => {
    const r = await fetch(`${relay.url}/fwd/x`, { headers: { 'x-forwarded-for': '203.0.113.9', 'x-real-ip': '203.0.113.9' } });
    expect(r.status).toBe(200);
    expect(last().headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(last().headers['x-forwarded-proto']).toBe('http');
    expect(last().headers['x-forwarded-host']).toBe(new URL(relay.url).host);
    expect(last().headers['x-real-ip']).toBeUndefined();
  });

  it('forwardPrefix: X-Forwarded-Prefix is base path + route prefix the client used', async () => {
    await fetch(`${relay.url}/r/api/x`);
    expect(last().headers['x-forwarded-prefix']).toBe('/r/api');
    await fetch(`${relay.url}/api/x`);
    expect(last().headers['x-forwarded-prefix']).toBe('/api');
    await fetch(`${relay.url}/fwd/x`);
    expect(last().headers['x-forwarded-prefix']).toBeUndefined();
  });

  it('headers.set with ${VAR} overrides the client; headers.remove drops client headers', async () => {
    const r = await fetch(`${relay.url}/api/x`, { headers: { 'x-api-key': 'client-supplied', cookie: 'sid=1', 'x-drop-me': '1', 'x-keep': 'k' } });
    expect(r.status).toBe(200);
    expect(last().headers['x-api-key']).toBe('key-sekrit-123');
    expect(last().headers['x-static']).toBe('static');
    expect(last().headers.cookie).toBeUndefined();
    expect(last().headers['x-drop-me']).toBeUndefined();
    expect(last().headers['x-keep']).toBe('k');
    expect(JSON.stringify(last().rawHeaders)).not.toContain('client-supplied');
  });

  it('upstream Set-Cookie and Alt-Svc are dropped, other headers kept', async () => {
    const r = await rawRequest(relay.url, '/api/cookie');
    expect(r.status).toBe(200);
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.headers['alt-svc']).toBeUndefined();
    expect(r.headers['x-upstream']).toBe('yes');
  });

  it.each([
    ['', '/api'],
    ['/r', '/r/api'],
  ])('absolute Location under the upstream is rewritten (base "%s"); the redirect is not followed', async (base, pub) => {
    const n = up.requests.length;
    const r = await fetch(`${relay.url}${base}/api/redirect-abs`, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe(`${pub}/next?x=1`);
    expect(up.requests.length).toBe(n + 1); // the relay did not chase it
  });

  it('root-relative Location under the upstream base path is rewritten', async () => {
    const r = await fetch(`${relay.url}/r/api/redirect-root`, { redirect: 'manual' });
    expect(r.status).toBe(301);
    expect(r.headers.get('location')).toBe('/r/api/other');
  });

  it('a Location on another origin is passed through unchanged', async () => {
    const r = await fetch(`${relay.url}/api/redirect-foreign`, { redirect: 'manual' });
    expect(r.status).toBe(307);
    expect(r.headers.get('location')).toBe('https://other.example/v1/x');
  });

  it('Location on a 201 is rewritten too', async () => {
    const r = await fetch(`${relay.url}/api/created`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe('/api/items/7');
  });

  it('a sane X-Request-Id is kept, echoed and sent upstream', async () => {
    const id = 'req-42_a.b:c';
    const r = await fetch(`${relay.url}/api/x`, { headers: { 'x-request-id': id } });
    expect(r.headers.get('x-request-id')).toBe(id);
    expect(last().headers['x-request-id']).toBe(id);
  });

  it.each([
    ['spaces', 'has spaces'],
    ['too long', 'a'.repeat(129)],
    ['quote', 'abc"def'],
    ['slash', 'a/b'],
  ])('an insane X-Request-Id (%s) is replaced', async (_what, id) => {
    const r = await rawRequest(relay.url, '/api/x', { headers: { 'X-Request-Id': id } });
    const got = r.headers['x-request-id']!;
    expect(got).toBeTruthy();
    expect(got).not.toBe(id);
    expect(got).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
    expect(last().headers['x-request-id']).toBe(got);
  });

  it('Server-Timing reports relay and upstream durations (and keeps the upstream one)', async () => {
    const r = await fetch(`${relay.url}/api/timing`);
    expect(r.headers.get('server-timing')).toMatch(/^relay;dur=\d+(\.\d+)?, upstream;dur=\d+(\.\d+)?, db;dur=3$/);
  });

  it("the relay's own headers replace an upstream's of the same name, each sent once; Vary gains Origin", async () => {
    const r = await rawRequest(relay.url, '/cors/own-headers', { headers: { Origin: 'https://app.example', 'X-Request-Id': 'client-id-1' } });
    expect(r.status).toBe(200);
    const all = (name: string) => r.rawHeaders.filter(([k]) => k === name).map(([, v]) => v);
    expect(all('x-request-id')).toEqual(['client-id-1']);
    expect(all('access-control-allow-origin')).toEqual(['https://app.example']);
    expect(all('access-control-expose-headers')).toHaveLength(1);
    expect(all('access-control-expose-headers')[0]).not.toContain('X-Upstream-Secret');
    expect(all('vary')).toEqual(['Accept-Encoding, Origin']);
    expect(all('x-upstream')).toEqual(['kept']);
    expect(all('server-timing')).toHaveLength(1);
    expect(r.body.toString()).toBe('own');
  });

  it('an upstream header named __proto__ is dropped, and nothing it does to the header object reaches the client', async () => {
    const r = await rawRequest(relay.url, '/api/proto');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('proto');
    const names = r.rawHeaders.map(([k]) => k);
    expect(names).not.toContain('__proto__');
    expect(names.filter((k) => /^\d+$/.test(k))).toEqual([]);
    expect(names).toContain('content-type');
  });

  it('relay errors carry X-Request-Id and Server-Timing too', async () => {
    const r = await fetch(`${relay.url}/nothing-here`);
    expect(r.status).toBe(404);
    expect(r.headers.get('x-request-id')).toBeTruthy();
    expect(r.headers.get('server-timing')).toMatch(/relay;dur=/);
  });
});
