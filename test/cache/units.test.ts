/**
 * The cache's pure parts: the key (fields length-delimited, scope with a JWT user, credentials a
 * client forwards itself), canonical JSON, the SSE end watcher, client controls, the Redis entry
 * format, path patterns, config validation with FILE:LINE:COL and the `check` route table.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import { cacheKey, canonicalBody, credentialDigest, scopeOf, type KeyParts } from '../../src/cache/key.js';
import { SseWatch } from '../../src/cache/sse-watch.js';
import { clientControls, upstreamForbids } from '../../src/cache/control.js';
import { decodeEntry, encodeEntry, storedHeaders } from '../../src/cache/entry.js';
import { compilePath } from '../../src/cache/route-cache.js';
import { createMemoryStore } from '../../src/cache/store-memory.js';
import { describeRoutes } from '../../src/cli/route-table.js';

const base: KeyParts = { route: 'api', method: 'POST', path: '/v1/embeddings', body: 'json:{"input":"a"}', headers: [], transforms: '[]', scope: 'client:web', credentials: '' };

describe('cache key', () => {
  it('is a hex digest that changes with every field', () => {
    const k = cacheKey(base);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey({ ...base })).toBe(k);
    for (const change of [{ route: 'b' }, { method: 'GET' }, { path: '/v1/x' }, { body: 'json:{}' }, { headers: ['v'] }, { transforms: '[{"png-to-jpeg":{}}]' }, { scope: 'shared' }, { credentials: 'abc' }]) {
      expect(cacheKey({ ...base, ...change }), JSON.stringify(change)).not.toBe(k);
    }
  });

  it('fields are length-delimited: shifting text between fields is another key', () => {
    expect(cacheKey({ ...base, route: 'a', path: 'b/c' })).not.toBe(cacheKey({ ...base, route: 'a/b', path: '/c' }));
    expect(cacheKey({ ...base, headers: [undefined] })).not.toBe(cacheKey({ ...base, headers: [''] }));
    expect(cacheKey({ ...base, headers: ['a', 'b'] })).not.toBe(cacheKey({ ...base, headers: ['ab'] }));
    // A raw body whose bytes spell a canonical JSON body is still another key.
    expect(cacheKey({ ...base, body: Buffer.from('json:{"input":"a"}') })).not.toBe(cacheKey(base));
    expect(cacheKey({ ...base, body: Buffer.from('{"input":"a"}') })).toBe(cacheKey({ ...base, body: Buffer.from('{"input":"a"}') }));
  });

  it('strings that are not well-formed UTF-16 do not collapse into one key (a JWT sub with a lone surrogate)', () => {
    // As UTF-8, every lone surrogate becomes U+FFFD: hashed that way, these users would share answers.
    const users = ['\ud800', '\udbff', '\udc00', '\ufffd', 'a\ud800b', 'a\udfffb'];
    const keys = users.map((u) => cacheKey({ ...base, scope: scopeOf('client', 'site', u, 'ip') }));
    expect(new Set(keys).size).toBe(users.length);
    expect(cacheKey({ ...base, route: '\ud800' })).not.toBe(cacheKey({ ...base, route: '\udc00' }));
  });

  it('scope: per client, per client and user (JWT), per IP on open routes, or shared', () => {
    expect(scopeOf('client', 'site', 'u1', '1.2.3.4')).toBe('client:site\nuser:site:u1');
    expect(scopeOf('client', 'site', undefined, '1.2.3.4')).toBe('client:site');
    expect(scopeOf('client', undefined, undefined, '1.2.3.4')).toBe('ip:1.2.3.4');
    expect(scopeOf('shared', 'site', 'u1', '1.2.3.4')).toBe('shared');
    const u1 = cacheKey({ ...base, scope: scopeOf('client', 'site', 'u1', 'ip') });
    const u2 = cacheKey({ ...base, scope: scopeOf('client', 'site', 'u2', 'ip') });
    const none = cacheKey({ ...base, scope: scopeOf('client', 'site', undefined, 'ip') });
    expect(new Set([u1, u2, none]).size).toBe(3);
  });

  it('canonical JSON ignores key order and whitespace, not values; other bodies are byte for byte', () => {
    const j = (s: string) => canonicalBody(Buffer.from(s), 'application/json');
    expect(j('{"b":1,"a":{"y":[1,2],"x":null}}')).toBe(j('{ "a" : { "x":null, "y":[1, 2] },\n "b":1 }'));
    expect(j('{"a":1}')).not.toBe(j('{"a":2}'));
    expect(j('{"a":[1,2]}')).not.toBe(j('{"a":[2,1]}'));
    const raw = (s: string) => canonicalBody(Buffer.from(s), 'text/plain').toString();
    expect(raw('a=1&b=2')).not.toBe(raw('b=2&a=1'));
    expect(String(j('{bad json'))).toBe(raw('{bad json')); // unparsable JSON is keyed raw
    expect(String(j('{"a":1}'))).not.toBe(raw('{"a":1}')); // the two forms never meet
    // Integers past 2^53 would round in JSON.parse: such bodies are keyed raw, so they never collide.
    expect(j('{"seed":12345678901234567890}')).not.toEqual(j('{"seed":12345678901234567891}'));
  });

  it('credentials a client sends itself are keyed (as a digest); the route\'s own are not', () => {
    const set = new Set(['authorization']);
    expect(credentialDigest({ authorization: 'Bearer relay-key' }, set)).toBe('');
    const mine = credentialDigest({ 'x-api-key': 'user-key-1' }, set);
    expect(mine).toMatch(/^[0-9a-f]{64}$/);
    expect(mine).not.toContain('user-key-1');
    expect(credentialDigest({ 'x-api-key': 'user-key-2' }, set)).not.toBe(mine);
  });
});

describe('SSE end watcher', () => {
  const watch = (...chunks: string[]) => {
    const w = new SseWatch();
    for (const c of chunks) w.push(Buffer.from(c));
    return w;
  };
  it('[DONE], or a close at an event boundary, is clean', () => {
    expect(watch('data: {"a":1}\n\n', 'data: [DONE]\n\n').clean()).toBe(true);
    expect(watch('data: {"a":1}\n\n').clean()).toBe(true);
    expect(watch('data: {"a":1}\r\n\r\n').clean()).toBe(true);
    expect(watch('data: {"a":1}\n\ndata: {"b"').clean()).toBe(false);
    expect(watch(': comment only\n\n').clean()).toBe(false);
  });
  it('error events are found even when split across chunks', () => {
    expect(watch('data: {"a":1}\n\nevent: err', 'or\ndata: {}\n\n', 'data: [DONE]\n\n').clean()).toBe(false);
    expect(watch('data: {"er', 'ror":{"message":"x"}}\n\n').clean()).toBe(false);
    expect(watch('data: {"choices":[{"delta":{"content":"error"}}]}\n\n', 'data: [DONE]\n\n').clean()).toBe(true);
    expect(watch('data: {"error":null}\n\n').clean()).toBe(true);
  });
});

describe('client controls and upstream directives', () => {
  it('parses no-store, no-cache, max-age and X-Relay-Cache-TTL', () => {
    expect(clientControls('no-store', undefined)).toMatchObject({ noStore: true, noCache: false });
    expect(clientControls('No-Cache, max-age=30', '60')).toMatchObject({ noCache: true, maxAgeMs: 30_000, ttlMs: 60_000 });
    expect(clientControls('max-age=abc', 'soon').maxAgeMs).toBe(0);
    expect(clientControls(undefined, 'soon').ttlMs).toBeUndefined();
  });
  it('upstream no-store and private forbid storing; public max-age does not', () => {
    expect(upstreamForbids('no-store')).toBe(true);
    expect(upstreamForbids('private, max-age=0')).toBe(true);
    expect(upstreamForbids('public, max-age=60')).toBe(false);
    expect(upstreamForbids(undefined)).toBe(false);
  });
});

describe('entries', () => {
  it('keep only allowlisted headers and survive the Redis encoding byte for byte', () => {
    const h = storedHeaders({ 'content-type': 'application/json', 'set-cookie': ['a=b'], 'x-request-id': 'r', 'ratelimit-remaining': '1', 'access-control-allow-origin': '*', 'server-timing': 'x', 'content-length': '3' }, false);
    expect(h).toEqual({ 'content-type': 'application/json' });
    const body = Buffer.from([0, 1, 2, 255]);
    const e = decodeEntry(encodeEntry({ status: 200, headers: h, body, storedAt: 123 }))!;
    expect(e).toMatchObject({ status: 200, headers: h, storedAt: 123 });
    expect(Buffer.compare(e.body, body)).toBe(0);
    expect(decodeEntry(Buffer.from('garbage'))).toBeUndefined();
    expect(decodeEntry(Buffer.alloc(2))).toBeUndefined();
  });

  it('the memory store expires by its clock and evicts by bytes', async () => {
    let now = 1000;
    let evicted = 0;
    const s = await createMemoryStore({ maxSize: 1000, maxEntrySize: 600, now: () => now, onEvict: () => evicted++ });
    const e = (n: number) => ({ status: 200, headers: {}, body: Buffer.alloc(n), storedAt: now });
    s.set('a', e(400), 5000);
    now += 4999;
    expect(s.get('a')).toBeDefined();
    now += 2;
    expect(s.get('a')).toBeUndefined();
    s.set('b', e(400), 60_000);
    s.set('c', e(400), 60_000);
    s.set('d', e(400), 60_000);
    expect(s.get('b')).toBeUndefined();
    expect(evicted).toBe(1);
    expect(s.stats()!.bytes).toBeLessThanOrEqual(1000);
  });
});

describe('paths and config', () => {
  it('path patterns: exact, `*` one segment', () => {
    const p = compilePath('/v1/models/*');
    expect(p('/v1/models/gpt')).toBe(true);
    expect(p('/v1/models')).toBe(false);
    expect(p('/v1/models/a/b')).toBe(false);
    expect(compilePath('/v1/embeddings')('/v1/embeddings')).toBe(true);
    expect(compilePath('/v1/embeddings')('/v1/embeddings2')).toBe(false);
  });

  it('path patterns: the in-place matcher agrees with splitting the path into segments', () => {
    // The reading the matcher must keep: trailing slashes dropped, then the segments after each '/'.
    const reference = (pattern: string) => {
      const seg = (p: string) => (p === '/' ? [''] : p.replace(/\/+$/, '').split('/').slice(1));
      const want = seg(pattern);
      return (path: string) => {
        const got = seg(path);
        return got.length === want.length && want.every((w, i) => (w === '*' ? got[i] !== '' : w === got[i]));
      };
    };
    const pieces = ['/', '/', 'a', 'b', 'v1', 'x', ''];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (const pattern of ['/', '/a', '/a/b', '/*', '/*/*', '/a/*', '/v1//x', '/a/', '/*/b/', '/v1/models/*']) {
      const [fast, slow] = [compilePath(pattern), reference(pattern)];
      for (let k = 0; k < 3000; k++) {
        let path = '';
        for (let i = rnd(7); i > 0; i--) path += pieces[rnd(pieces.length)];
        expect(fast(path), `${pattern} on ${JSON.stringify(path)}`).toBe(slow(path));
      }
    }
  });

  const issuesOf = (yaml: string): ConfigIssue[] => {
    try {
      parseConfigText(yaml, 'c.yaml', { env: {} });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).issues;
    }
    throw new Error('expected a ConfigError');
  };
  const route = (cache: string) => `routes:
  - name: fb
    prefix: /fb
    upstream: http://127.0.0.1:9
    auth: none
    cache:
${cache}`;

  it('refuses FusionBrain status polls and token endpoints, and bad values, with FILE:LINE:COL', () => {
    const fb = issuesOf(route('      paths: ["/key/api/v1/pipeline/status/*"]\n'));
    expect(fb[0]).toMatchObject({ file: 'c.yaml', line: 7 });
    expect(fb[0]!.message).toMatch(/one-shot/);
    expect(issuesOf(route('      paths: ["/api/v2/oauth"]\n'))[0]!.message).toMatch(/token endpoints/);
    expect(issuesOf(route('      paths: ["/a"]\n      ttl: 1h\n      maxTtl: 1m\n'))[0]!.message).toMatch(/maxTtl/);
    expect(issuesOf(route('      paths: ["/a"]\n      scope: everyone\n'))[0]).toMatchObject({ line: 8 });
    expect(issuesOf(route('      paths: ["/v1/mod*"]\n'))[0]!.message).toMatch(/whole segment/);
    expect(issuesOf(route('      paths: ["/a"]\n      stream: maybe\n'))[0]).toMatchObject({ line: 8 });
    expect(issuesOf(`cache: { store: "memcached://x" }\n` + route('      paths: ["/a"]\n'))[0]).toMatchObject({ line: 1 });
  });

  it('defaults: GET and HEAD, ttl 10m, scope client, replay streams; memory store 256mb / 1mb', () => {
    const l = parseConfigText(route('      paths: ["/a"]\n'), 'c.yaml', { env: {} });
    expect(l.config.routes[0]!.cache).toMatchObject({ methods: ['GET', 'HEAD'], ttl: 600_000, scope: 'client', stream: 'replay', headers: [] });
    expect(l.config.cache).toMatchObject({ store: 'memory', maxSize: 256 * 1024 * 1024, maxEntrySize: 1024 * 1024, timeout: 200 });
  });

  it('`check` shows each route\'s cache', () => {
    const l = parseConfigText(route('      paths: ["/v1/embeddings"]\n      methods: [POST]\n      ttl: 1h\n') + '  - name: plain\n    prefix: /p\n    upstream: http://127.0.0.1:9\n    auth: none\n', 'c.yaml', { env: {} });
    const text = describeRoutes(l, {}).replace(/\x1b\[[0-9;]*m/g, '');
    expect(text).toContain('CACHE');
    expect(text).toMatch(/\/v1\/embeddings POST 1h per client/);
  });
});
