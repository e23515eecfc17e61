import { describe, expect, it } from 'vitest';
import { createMemoryLimiter } from '../../src/policy/rate-limit-memory.js';
import { createRateLimiter, rateLimitHeaders } from '../../src/policy/rate-limit.js';
import { silentLogger } from '../../src/log/logger.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('memory token bucket', () => {
  it('allows a burst of `requests`, then refuses with Retry-After', () => {
    const c = clock();
    const rl = createMemoryLimiter({ requests: 3, per: 60_000 }, { now: c.now, sweepEvery: 0 });
    const r = [rl.consume('a'), rl.consume('a'), rl.consume('a')];
    expect(r.map((x) => [x.allowed, x.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
    ]);
    const denied = rl.consume('a');
    expect(denied.allowed).toBe(false);
    expect(denied.remaining).toBe(0);
    // One token every 20 s.
    expect(denied.retryAfterSeconds).toBe(20);
    expect(denied.resetSeconds).toBe(60);
    expect(denied.limit).toBe(3);
  });

  it('refills continuously: exactly one token per per/requests, no float drift', () => {
    const c = clock();
    const rl = createMemoryLimiter({ requests: 3, per: 1000 }, { now: c.now, sweepEvery: 0 });
    for (let i = 0; i < 3; i++) rl.consume('k');
    expect(rl.consume('k').allowed).toBe(false);
    c.advance(333); // 0.999 of a token
    const early = rl.consume('k');
    expect(early.allowed).toBe(false);
    expect(early.retryAfterSeconds).toBe(1);
    c.advance(1); // 1000/3 ms ≈ 333.3: the token is there at 334 ms
    expect(rl.consume('k').allowed).toBe(true);
    expect(rl.consume('k').allowed).toBe(false);
    c.advance(10_000); // long idle: capped at the bucket size, not 30 tokens
    const full = [0, 1, 2, 3].map(() => rl.consume('k').allowed);
    expect(full).toEqual([true, true, true, false]);
  });

  it('keeps keys apart and Reset counts down to full', () => {
    const c = clock();
    const rl = createMemoryLimiter({ requests: 2, per: 10_000 }, { now: c.now, sweepEvery: 0 });
    rl.consume('a');
    rl.consume('a');
    expect(rl.consume('a').allowed).toBe(false);
    expect(rl.consume('b').allowed).toBe(true);
    c.advance(4000);
    const r = rl.consume('b'); // b: 1 + 0.8 - 1 = 0.8 tokens
    expect(r.remaining).toBe(0);
    expect(r.resetSeconds).toBe(6); // 1.2 tokens missing at 5 s per token
  });

  it('a clock going backwards grants nothing', () => {
    const c = clock();
    const rl = createMemoryLimiter({ requests: 1, per: 1000 }, { now: c.now, sweepEvery: 0 });
    expect(rl.consume('a').allowed).toBe(true);
    c.advance(-5000);
    expect(rl.consume('a').allowed).toBe(false);
    c.advance(999);
    expect(rl.consume('a').allowed).toBe(false);
    c.advance(1);
    expect(rl.consume('a').allowed).toBe(true);
  });

  it('sweep drops only buckets that are full again', () => {
    const c = clock();
    const rl = createMemoryLimiter({ requests: 2, per: 1000 }, { now: c.now, sweepEvery: 0 });
    rl.consume('old');
    c.advance(600);
    rl.consume('new');
    expect(rl.size).toBe(2);
    c.advance(100); // old: refilled 0.7 s·2/s ≥ 1 missing token → full; new: 0.2 missing
    expect(rl.sweep()).toBe(1);
    expect(rl.size).toBe(1);
    // A dropped bucket behaves exactly as a full one.
    expect(rl.consume('old').remaining).toBe(1);
  });

  it('stays bounded under a flood of distinct keys (maxKeys)', () => {
    const c = clock();
    const rl = createMemoryLimiter({ requests: 5, per: 3_600_000 }, { now: c.now, sweepEvery: 0, maxKeys: 1000 });
    for (let i = 0; i < 50_000; i++) rl.consume(`ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(rl.size).toBeLessThanOrEqual(1000);
    // The most recent keys are still limited.
    const last = 'ip:10.0.195.79'; // i = 49999
    expect(rl.consume(last).remaining).toBe(3);
  });

  it('the sweep timer is unref\'d and stopped by close()', async () => {
    const rl = createMemoryLimiter({ requests: 1, per: 10 }, { sweepEvery: 5 });
    rl.consume('x');
    await new Promise((r) => setTimeout(r, 40));
    expect(rl.size).toBe(0); // the timer ran and dropped the refilled bucket
    await rl.close();
  });

  it('createRateLimiter picks the memory store and is synchronous', async () => {
    const c = clock();
    const rl = createRateLimiter(
      { requests: 1, per: 2000, by: 'client', store: 'memory', onStoreError: 'open' },
      { route: 'r', log: silentLogger(), now: c.now },
    );
    const first = rl.consume('k');
    expect(first).not.toBeInstanceOf(Promise);
    const second = rl.consume('k');
    expect(rateLimitHeaders(second as Exclude<typeof second, Promise<unknown>>)).toEqual({
      'RateLimit-Limit': '1',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '2',
      'Retry-After': '2',
    });
    await rl.close();
  });
});
