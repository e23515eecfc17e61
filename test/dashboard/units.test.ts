/** The dashboard's pure parts: percentiles, minute buckets, the tail ring, the Origin guard, path matching, sessions. */
import { describe, expect, it } from 'vitest';
import { DashboardFeed, OTHERS } from '../../src/dashboard/feed.js';
import { bucketOf, LATENCY_BUCKETS, quantile } from '../../src/dashboard/latency.js';
import { MinuteRing } from '../../src/dashboard/minute-ring.js';
import { dashboardTarget } from '../../src/dashboard/mount.js';
import { foreignOrigin } from '../../src/dashboard/origin.js';
import { MAX_SESSIONS, Sessions } from '../../src/dashboard/sessions.js';
import { Tail } from '../../src/dashboard/tail.js';
import type { Exchange } from '../../src/server/context.js';

describe('latency quantiles', () => {
  it('interpolates inside the bucket and answers null when empty', () => {
    const c = new Uint32Array(LATENCY_BUCKETS);
    expect(quantile(c, 0.5)).toBeNull();
    for (let i = 0; i < 90; i++) c[bucketOf(7)]!++; // (5, 10]
    for (let i = 0; i < 10; i++) c[bucketOf(700)]!++; // (500, 1000]
    expect(quantile(c, 0.5)).toBeGreaterThan(5);
    expect(quantile(c, 0.5)).toBeLessThanOrEqual(10);
    expect(quantile(c, 0.95)).toBeGreaterThan(500);
    expect(quantile(c, 0.95)).toBeLessThanOrEqual(1000);
    expect(bucketOf(1e9)).toBe(LATENCY_BUCKETS - 1);
  });
});

describe('minute ring', () => {
  it('keeps an hour of minutes and forgets older ones', () => {
    const ring = new MinuteRing();
    const t0 = 1_000 * 60_000;
    ring.slot(t0).requests = 5;
    ring.slot(t0 + 60_000).requests = 7;
    expect(ring.recent(t0 + 60_000, 2).map((s) => s?.requests)).toEqual([5, 7]);
    // 60 minutes later the first slot is reused for a new minute and starts from zero.
    expect(ring.slot(t0 + 60 * 60_000).requests).toBe(0);
    expect(ring.recent(t0 + 60 * 60_000).filter(Boolean)).toHaveLength(2);
  });
});

describe('tail ring', () => {
  it('holds the last N entries in order and answers what came after a sequence number', () => {
    const tail = new Tail(3);
    const rec = (i: number) => ({ time: i, route: 'r', method: 'GET', path: `/p${i}`, status: 200, duration: 1, ttfb: -1, client: undefined, user: undefined, usage: i === 5 ? { input: 1, output: 2, total: 3 } : undefined, cache: undefined, outcome: undefined });
    for (let i = 1; i <= 5; i++) tail.push(rec(i));
    const id = (s: string) => s;
    expect(tail.since(0, id).map((e) => e.path)).toEqual(['/p3', '/p4', '/p5']);
    expect(tail.since(4, id).map((e) => [e.seq, e.path, e.ttfb, e.usage])).toEqual([[5, '/p5', null, { input: 1, output: 2, total: 3 }]]);
    expect(tail.since(5, id)).toEqual([]);
  });
});

describe('feed bounds', () => {
  it('counts callers past the cap under one series and skips the relay\'s own endpoints', () => {
    const feed = new DashboardFeed();
    const x = (i: number, over: Partial<Exchange> = {}) => ({ route: { name: 'r' }, status: 200, method: 'GET', path: '/', start: performance.now(), upstreamHeadersAt: 0, client: undefined, ip: '1.1.1.1', outcome: undefined, user: `u${i}`, ...over }) as unknown as Exchange;
    for (let i = 0; i < 1200; i++) feed.record(x(i));
    expect(feed.principals.size).toBe(1001);
    expect(feed.principals.has(OTHERS)).toBe(true);
    feed.record(x(0, { route: undefined, status: 200 })); // health, ready, metrics
    expect(feed.tail.lastSeq).toBe(1200);
    feed.record(x(2, { status: 200, outcome: 'stream cut: upstream http://u was idle for 5m (idleTimeout)' }));
    feed.record(x(3, { status: 200, outcome: 'client read nothing for 60000ms (sendTimeout)' }));
    const slot = feed.routes.get('r')!.slot(Date.now());
    expect(slot.timeouts).toBe(1);
    const url = `/v1/${'p'.repeat(500)}?key=secret`;
    feed.record(x(1, { path: url.slice(0, url.indexOf('?')), query: '?key=secret' } as Partial<Exchange>));
    const last = feed.tail.since(1202, (t) => t)[0]!;
    expect(last.path).toBe(`/v1/${'p'.repeat(296)}`);
  });
});

describe('the Origin guard', () => {
  it.each([
    [undefined, '127.0.0.1:8787', false],
    ['http://127.0.0.1:8787', '127.0.0.1:8787', false],
    ['https://relay.example', 'relay.example', false],
    ['http://relay.example', 'relay.example:80', false],
    ['https://RELAY.example', 'relay.example', false],
    ['null', '127.0.0.1:8787', true],
    ['http://127.0.0.1:8788', '127.0.0.1:8787', true],
    ['http://evil.example', '127.0.0.1:8787', true],
    ['http://relay.example', 'relay.example.evil', true],
    ['http://relay.example', undefined, true],
    ['http://relay.example', 'relay.example/x', true],
    ['http://relay.example', 'user@relay.example', true],
    ['file://', 'relay.example', true],
    ['not a url', 'relay.example', true],
  ] as const)('Origin %s with Host %s → foreign: %s', (origin, host, foreign) => {
    expect(foreignOrigin(origin, host)).toBe(foreign);
  });
});

describe('dashboard paths', () => {
  const bases = ['/r', '/'];
  it.each([
    ['/_relay', { mount: '/_relay', sub: '' }],
    ['/_relay/', { mount: '/_relay', sub: '/' }],
    ['/_relay/events?x=1', { mount: '/_relay', sub: '/events' }],
    ['/r/_relay/login', { mount: '/r/_relay', sub: '/login' }],
    ['/_relayx', undefined],
    ['/api/_relay', undefined],
    ['/v1/chat', undefined],
    ['/_relay#frag', { mount: '/_relay', sub: '' }],
  ])('%s', (url, want) => {
    expect(dashboardTarget(url, bases, '/_relay')).toEqual(want);
  });
});

describe('sessions', () => {
  it('expire when idle, end when the token changes, and stay bounded', () => {
    let now = 0;
    const s = new Sessions(() => 1000, () => now);
    const a = s.create('tag');
    expect(s.check(a.id, 'tag')).toBe(a.key);
    now = 900;
    expect(s.check(a.id, 'tag')).toBe(a.key); // use renews it
    now = 1800;
    expect(s.check(a.id, 'tag')).toBe(a.key);
    now = 2900;
    expect(s.check(a.id, 'tag')).toBeUndefined();
    const b = s.create('tag');
    expect(s.check(b.id, 'other-token')).toBeUndefined();
    expect(s.check(b.id, 'tag')).toBeUndefined();
    expect(s.check('forged', 'tag')).toBeUndefined();
    const ids = Array.from({ length: MAX_SESSIONS + 5 }, () => s.create('tag').id);
    expect(s.size).toBe(MAX_SESSIONS);
    expect(s.check(ids[0], 'tag')).toBeUndefined(); // the oldest went first
    expect(s.check(ids.at(-1), 'tag')).toBeDefined();
  });
});
