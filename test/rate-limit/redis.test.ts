/**
 * The Redis store against a real redis-server: shared buckets, atomicity under concurrency,
 * outage behaviour (fail open / closed, never hanging), recovery on the same port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { RateLimitConfig } from '../../src/config/schema.js';
import { createRateLimiter, type RateLimiter } from '../../src/policy/rate-limit.js';
import { createRedisRegistry } from '../../src/policy/redis-registry.js';
import { displayRedisUrl } from '../../src/policy/redis-store.js';
import { checkRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { captureLogger } from './capture-log.js';

const tool = checkRedis();

it.runIf(tool.mustFail)('redis-server is installed (required under CI=true)', () => {
  expect.fail(tool.reason);
});

const cfg = (store: string, over: Partial<RateLimitConfig> = {}): RateLimitConfig => ({
  requests: 3,
  per: 60_000,
  by: 'client',
  store,
  onStoreError: 'open',
  ...over,
});

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!tool.available)('redis store', () => {
  let redis: TestRedis;
  const open: RateLimiter[] = [];
  const make = (c: RateLimitConfig, route = 'r', log = captureLogger().log) => {
    // A registry per limiter: separate connections, as two relay processes would have.
    const rl = createRateLimiter(c, { route, log, redis: createRedisRegistry({ timeoutMs: 300 }) });
    open.push(rl);
    return rl;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(open.map((l) => l.close()));
    await redis?.close();
  });

  it('two limiters on separate connections spend one bucket, keyed ai-relay:rl:<route>:<key>', async () => {
    const a = make(cfg(redis.url), 'shared');
    const b = make(cfg(redis.url), 'shared');
    const results = [await a.consume('c:web'), await b.consume('c:web'), await a.consume('c:web'), await b.consume('c:web')];
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0]);
    expect(results[3]!.retryAfterSeconds).toBe(20);
    expect(results[3]!.storeError).toBeUndefined();

    const peek = new Redis(redis.url);
    try {
      expect(await peek.exists('ai-relay:rl:shared:c:web')).toBe(1);
      const ttl = await peek.pttl('ai-relay:rl:shared:c:web');
      expect(ttl).toBeGreaterThan(55_000); // expires when full again: 3 tokens × 20 s
      expect(ttl).toBeLessThanOrEqual(60_000);
    } finally {
      peek.disconnect();
    }
    // Other route, other bucket.
    expect((await a.consume('c:other')).allowed).toBe(true);
  });

  it('is atomic: 50 concurrent takes on a 10-token bucket admit exactly 10', async () => {
    const a = make(cfg(redis.url, { requests: 10 }), 'atomic');
    const b = make(cfg(redis.url, { requests: 10 }), 'atomic');
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).consume('k')));
    expect(all.filter((r) => r.allowed)).toHaveLength(10);
  });

  it('refills on the Redis clock', async () => {
    const a = make(cfg(redis.url, { requests: 2, per: 400 }), 'refill');
    expect((await a.consume('k')).allowed).toBe(true);
    expect((await a.consume('k')).allowed).toBe(true);
    expect((await a.consume('k')).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 250)); // 1 token per 200 ms
    expect((await a.consume('k')).allowed).toBe(true);
    expect((await a.consume('k')).allowed).toBe(false);
  });

  it('Redis dies: open answers at once, closed refuses, each logged once; back on the same port, limits return', async () => {
    const logOpen = captureLogger();
    const logClosed = captureLogger();
    const fo = make(cfg(redis.url, { requests: 2 }), 'outage', logOpen.log);
    const fc = make(cfg(redis.url, { requests: 2, onStoreError: 'closed' }), 'outage', logClosed.log);
    expect((await fo.consume('k')).allowed).toBe(true);
    expect((await fc.consume('k')).allowed).toBe(true);
    expect((await fo.consume('k')).allowed).toBe(false);

    await redis.kill();
    const t0 = Date.now();
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await fo.consume('k'));
    const closedDuring = await fc.consume('k');
    const elapsed = Date.now() - t0;
    expect(during.every((r) => r.allowed && r.storeError)).toBe(true);
    expect(closedDuring).toMatchObject({ allowed: false, storeError: true, retryAfterSeconds: 1 });
    expect(elapsed).toBeLessThan(6 * 350); // each call bounded by the 300 ms deadline
    const warns = logOpen.lines().filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.msg).toContain(`rate-limit store redis://127.0.0.1:${redis.port} is unreachable`);
    expect(logClosed.lines().filter((l) => l.level === 'warn')).toHaveLength(1);

    await redis.start(); // empty Redis: buckets start full
    await until(async () => !(await fo.consume('k')).storeError);
    expect((await fo.consume('k')).allowed).toBe(true);
    expect((await fo.consume('k')).allowed).toBe(false); // limiting again
    expect(logOpen.lines().filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(logOpen.lines().some((l) => l.level === 'info' && l.msg.includes('reachable again'))).toBe(true);
    await until(async () => !(await fc.consume('k2')).storeError);
  });

  it('logs the Redis URL without credentials', () => {
    expect(displayRedisUrl('redis://user:s3cret-pass@10.0.0.5:6380/2')).toBe('redis://10.0.0.5:6380/2');
    expect(displayRedisUrl('rediss://:s3cret-pass@cache.example:6379')).toBe('rediss://cache.example:6379');
  });

  it('unreachable from the start: the first request is answered within the deadline and warned once', async () => {
    const { log, lines } = captureLogger();
    const dead = `redis://127.0.0.1:${redis.port + 1 === 65536 ? 1 : redis.port + 1}`;
    const rl = make(cfg(dead), 'dead', log);
    const t0 = Date.now();
    const r = await rl.consume('k');
    expect(Date.now() - t0).toBeLessThan(300); // refused connect fails the waiting take early
    expect(r).toMatchObject({ allowed: true, storeError: true });
    for (let i = 0; i < 3; i++) await rl.consume('k');
    await new Promise((res) => setTimeout(res, 300)); // reconnect attempts keep failing quietly
    expect(lines().filter((l) => l.level === 'warn')).toHaveLength(1);
  });

  it('one registry shares one connection per URL and close() quits it', async () => {
    const registry = createRedisRegistry();
    const log = captureLogger().log;
    const a = createRateLimiter(cfg(redis.url), { route: 'x', log, redis: registry });
    const b = createRateLimiter(cfg(redis.url), { route: 'y', log, redis: registry });
    await a.consume('k');
    await b.consume('k');
    expect(registry.size).toBe(1);
    const peek = new Redis(redis.url);
    try {
      const named = async () => (await peek.client('LIST') as string).split('\n').filter((l) => l.includes('name=ai-relay')).length;
      const before = await named(); // earlier tests' limiters still hold their own connections
      await a.close();
      expect(registry.size).toBe(1);
      await b.close();
      expect(registry.size).toBe(0);
      await until(async () => (await named()) === before - 1);
    } finally {
      peek.disconnect();
    }
  });
});
