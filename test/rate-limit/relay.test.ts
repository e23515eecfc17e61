/**
 * Rate limits through a real relay: headers on every response of a limited route, 429 with
 * Retry-After, bucket keys by client and by IP (with and without trustProxy), and — with a real
 * redis-server — two relays sharing one bucket, a Redis crash that leaves the relays answering,
 * and limits coming back with Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { checkRedis, startRedis, type TestRedis } from '../helpers/redis.js';

const env = { WEB: 'tok-web-123456', MOBILE: 'tok-mobile-654321' };

function config(upstream: string, opts: { trustProxy?: boolean; limit: string; auth?: string }): string {
  return `
server:
  trustProxy: ${opts.trustProxy ?? false}
clients:
  web: \${WEB}
  mobile: \${MOBILE}
routes:
  - name: api
    prefix: /api
    upstream: ${upstream}
    auth: ${opts.auth ?? '[web, mobile]'}
    rateLimit:
${opts.limit
  .trim()
  .split('\n')
  .map((l) => `      ${l.trim()}`)
  .join('\n')}
`;
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

describe('rate limits through the relay (memory store)', () => {
  let up: FakeUpstream;
  const relays: TestRelay[] = [];
  const start = async (yaml: string) => {
    const r = await startTestRelay(yaml, { env });
    relays.push(r);
    return r;
  };

  beforeAll(async () => {
    up = await startUpstream((req, res) => {
      const status = req.url?.includes('boom') ? 500 : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: status === 200 }));
    });
  });
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.close()));
    await up?.close();
  });

  it('RateLimit-* on every response (upstream 200, upstream 500, relay 429); 429 carries Retry-After', async () => {
    const relay = await start(config(up.url, { limit: 'requests: 3\nper: 1m' }));
    const before = up.requests.length;
    const auth = { 'x-proxy-token': env.WEB };
    const rs = [
      await get(`${relay.url}/api/a`, auth),
      await get(`${relay.url}/api/boom`, auth),
      await get(`${relay.url}/api/c`, auth),
      await get(`${relay.url}/api/d`, auth),
    ];
    expect(rs.map((r) => r.status)).toEqual([200, 500, 200, 429]);
    expect(rs.map((r) => r.headers.get('ratelimit-limit'))).toEqual(['3', '3', '3', '3']);
    expect(rs.map((r) => r.headers.get('ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
    expect(rs.every((r) => /^\d+$/.test(r.headers.get('ratelimit-reset') ?? ''))).toBe(true);
    expect(rs[3]!.headers.get('retry-after')).toBe('20');
    expect(rs[0]!.headers.get('retry-after')).toBeNull();
    expect(await rs[3]!.json()).toMatchObject({ error: { type: 'rate_limited', route: 'api' } });
    expect(up.requests.length - before).toBe(3); // the refused one never left the relay
  });

  it('by: client gives each client its own bucket', async () => {
    const relay = await start(config(up.url, { limit: 'requests: 1\nper: 1m\nby: client' }));
    expect((await get(`${relay.url}/api/x`, { 'x-proxy-token': env.WEB })).status).toBe(200);
    expect((await get(`${relay.url}/api/x`, { authorization: `Bearer ${env.WEB}` })).status).toBe(429);
    expect((await get(`${relay.url}/api/x`, { 'x-proxy-token': env.MOBILE })).status).toBe(200);
  });

  it('by: ip without trustProxy ignores X-Forwarded-For (a client cannot pick its bucket)', async () => {
    const relay = await start(config(up.url, { limit: 'requests: 2\nper: 1m\nby: ip', auth: 'none' }));
    const codes = [];
    for (const xff of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      codes.push((await get(`${relay.url}/api/x`, { 'x-forwarded-for': xff })).status);
    }
    expect(codes).toEqual([200, 200, 429]);
    expect(relay.lines().filter((l) => l.status === 429).map((l) => l.ip)).toEqual(['127.0.0.1']);
  });

  it('by: ip with trustProxy keys on the right-most untrusted X-Forwarded-For entry', async () => {
    const relay = await start(config(up.url, { trustProxy: true, limit: 'requests: 1\nper: 1m\nby: ip', auth: 'none' }));
    const hit = async (xff: string) => (await get(`${relay.url}/api/x`, { 'x-forwarded-for': xff })).status;
    expect(await hit('203.0.113.5')).toBe(200);
    // Same visitor behind the proxy, forged left-most entries: same bucket.
    expect(await hit('1.1.1.1, 203.0.113.5')).toBe(429);
    expect(await hit('9.9.9.9, 203.0.113.5, 10.0.0.7')).toBe(429);
    // A different visitor has a bucket of their own.
    expect(await hit('198.51.100.20')).toBe(200);
    const ips = relay.lines().filter((l) => typeof l.status === 'number').map((l) => l.ip);
    expect(ips).toEqual(['203.0.113.5', '203.0.113.5', '203.0.113.5', '198.51.100.20']);
  });
});

const tool = checkRedis();

it.runIf(tool.mustFail)('redis-server is installed (required under CI=true)', () => {
  expect.fail(tool.reason);
});

describe.skipIf(!tool.available)('rate limits through two relays sharing Redis', () => {
  let up: FakeUpstream;
  let redis: TestRedis;
  let a: TestRelay;
  let b: TestRelay;
  let closed: TestRelay;
  const auth = { 'x-proxy-token': env.WEB };

  beforeAll(async () => {
    up = await startUpstream();
    redis = await startRedis();
    const limit = `requests: 4\nper: 1m\nstore: ${redis.url}`;
    a = await startTestRelay(config(up.url, { limit }), { env });
    b = await startTestRelay(config(up.url, { limit }), { env });
    closed = await startTestRelay(config(up.url, { limit: `${limit}\nonStoreError: closed` }).replace('name: api', 'name: strict'), { env });
  });
  afterAll(async () => {
    await Promise.all([a, b, closed].map((r) => r?.close()));
    await redis?.close();
    await up?.close();
  });

  it('two relays spend one bucket', async () => {
    const order = [a, b, a, b, a];
    const rs = [];
    for (const r of order) rs.push(await get(`${r.url}/api/x`, auth));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);
    expect(rs.map((r) => r.headers.get('ratelimit-remaining'))).toEqual(['3', '2', '1', '0', '0']);
    expect(rs[4]!.headers.get('retry-after')).toBe('15');
  });

  it('Redis dies: relays keep answering (fail open, one warning); closed refuses; Redis back: limits back', async () => {
    await redis.kill();
    const t0 = Date.now();
    const during = [];
    for (let i = 0; i < 4; i++) during.push((await get(`${(i % 2 ? a : b).url}/api/x`, auth)).status);
    expect(during).toEqual([200, 200, 200, 200]);
    expect(Date.now() - t0).toBeLessThan(4 * 500);
    expect((await get(`${closed.url}/api/x`, auth)).status).toBe(429);
    // The three relays share this process's one connection to that Redis: one warning in all.
    const all = () => [a, b, closed].flatMap((r) => r.lines());
    const warnings = all().filter((l) => l.level === 'warn' && String(l.msg).includes('rate-limit store'));
    expect(warnings).toHaveLength(1);

    await redis.start(); // an empty Redis: the bucket starts full again
    const end = Date.now() + 5000;
    // Wait for a relay to reconnect: the first limited answer proves Redis is in charge again.
    let statuses: number[] = [];
    while (Date.now() < end) {
      statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await get(`${a.url}/api/x`, auth)).status);
      if (statuses.includes(429)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(statuses).toContain(429);
    expect((await get(`${b.url}/api/x`, auth)).status).toBe(429); // b reconnected too, same bucket
    expect(all().filter((l) => String(l.msg).includes('reachable again'))).toHaveLength(1);
  });
});
