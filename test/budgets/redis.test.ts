/**
 * Budgets on a real redis-server: two relays share one budget exactly (parallel requests split
 * over both included), the key layout and TTLs in Redis, and Redis killed under each
 * onStoreError mode (closed: 503 budget_unavailable; open: served, one warning per outage).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { TestRelay } from '../helpers/relay.js';
import { checkRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { startFakeApis, type FakeUpstream } from '../usage/fake-apis.js';
import { call, settled, startBudgetRelay, usage } from './helpers.js';

const tool = checkRedis();
it.runIf(tool.mustFail)('redis-server is installed (required under CI=true)', () => {
  expect.fail(tool.reason);
});

const A = 'tok-redis-client-a';
const CHAT = '/openai/v1/chat/completions';
const ask = { model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
const yaml = (upstream: string, store: string, onStoreError: string, limit: number) => `
server:
  usagePath: /usage
clients:
  a: ${A}
budgets:
  store: ${store}
  onStoreError: ${onStoreError}
routes:
  - name: openai
    prefix: /openai
    upstream: ${upstream}
    auth: [a]
    budget:
      - { by: client, tokens: ${limit}, per: day }
      - { by: client, requests: 1000, per: 1h }
`;

describe.skipIf(!tool.available)('budgets in Redis', () => {
  let redis: TestRedis;
  let up: FakeUpstream;
  beforeAll(async () => {
    redis = await startRedis();
    up = await startFakeApis({ eventGap: 20 }); // streams last ~120 ms: parallel holds overlap
  });
  afterAll(async () => {
    await up?.close();
    await redis?.close();
  });

  it('two relays share one budget exactly; keys ai-relay:b:<route>:<by>:<sha256>:<window> with TTLs', async () => {
    const r1 = await startBudgetRelay(yaml(up.url, redis.url, 'closed', 100));
    const r2 = await startBudgetRelay(yaml(up.url, redis.url, 'closed', 100));
    try {
      // 4 × 18 = 72 through alternating relays.
      for (const r of [r1, r2, r1, r2]) expect((await call(r.url, CHAT, ask, { 'x-proxy-token': A })).status).toBe(200);
      await settled(r1);
      await settled(r2);
      const u1 = (await usage(r1.url, A)).body.budgets[0];
      const u2 = (await usage(r2.url, A)).body.budgets[0];
      expect(u1).toMatchObject({ used: 72, remaining: 28 });
      expect(u2).toEqual(u1);
      expect((await usage(r2.url, A)).body.budgets[1]).toMatchObject({ unit: 'requests', used: 4 });

      // 10 parallel streams split over both relays with 28 tokens of room: the first hold
      // (10 + input estimate > 28, capped) takes all the room, so exactly one is admitted.
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call((i % 2 ? r1 : r2).url, CHAT, { ...ask, stream: true }, { 'x-proxy-token': A })));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      await settled(r1);
      await settled(r2);
      expect((await usage(r1.url, A)).body.budgets[0]).toMatchObject({ used: 90, remaining: 10 });

      const peek = new Redis(redis.url);
      try {
        const day = new Date().toISOString().slice(0, 10);
        const key = `ai-relay:b:openai:client:${createHash('sha256').update('client:a').digest('hex')}:d${day}`;
        expect(await peek.hget(key, 'u')).toBe('90');
        expect(await peek.hlen(key)).toBe(1); // every hold settled
        const midnight = new Date();
        midnight.setUTCHours(24, 0, 0, 0);
        const ttl = await peek.pttl(key);
        expect(Math.abs(ttl - (midnight.getTime() - Date.now() + 60_000))).toBeLessThan(5000);
      } finally {
        peek.disconnect();
      }
    } finally {
      await r1.close();
      await r2.close();
    }
  });

  it('Redis killed: onStoreError closed → 503 budget_unavailable; open → served, one warning; back when Redis is', async () => {
    const closed = await startBudgetRelay(yaml(up.url, redis.url, 'closed', 1_000_000));
    const open = await startBudgetRelay(yaml(up.url, redis.url, 'open', 1_000_000));
    try {
      expect((await call(closed.url, CHAT, ask, { 'x-proxy-token': A })).status).toBe(200);
      await redis.kill();
      const before = up.requests.length;
      const t0 = Date.now();
      const r = await call(closed.url, CHAT, ask, { 'x-proxy-token': A });
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(r.status).toBe(503);
      expect(JSON.parse(r.text).error).toMatchObject({ type: 'budget_unavailable', route: 'openai', request_id: r.id });
      expect(up.requests.length).toBe(before);

      for (let i = 0; i < 3; i++) {
        const s = await call(open.url, CHAT, ask, { 'x-proxy-token': A });
        expect(s.status).toBe(200);
        expect(s.headers.get('x-budget-limit')).toBeNull(); // counted nowhere
      }
      expect(up.requests.length).toBe(before + 3);
      const warnings = open.lines().filter((l) => String(l.msg).startsWith('budget store unreachable'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toMatch(/onStoreError: open/);

      await redis.start();
      const end = Date.now() + 8000;
      let status = 0;
      while (Date.now() < end && status !== 200) {
        status = (await call(closed.url, CHAT, ask, { 'x-proxy-token': A })).status;
        if (status !== 200) await new Promise((res) => setTimeout(res, 100));
      }
      expect(status).toBe(200);
    } finally {
      await closed.close();
      await open.close();
    }
  });
});
