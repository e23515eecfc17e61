/**
 * §13 Redis store against a real redis-server: two relays share entries; keys are digests with a
 * TTL (SET … PX); a corrupt value, a paused (slow) Redis and a killed Redis all mean answers from
 * upstream — never a 5xx — counted in ai_relay_cache_store_errors_total.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { call, countingUpstream, sleep, waitFor, WEB, type CountingUpstream } from './helpers.js';

const tool = checkRedis();

it.runIf(tool.mustFail)('redis-server is installed (required under CI=true)', () => {
  expect.fail(tool.reason);
});

describe.skipIf(!tool.available)('response cache: Redis store', () => {
  let redis: TestRedis;
  let up: CountingUpstream;
  let a: TestRelay;
  let b: TestRelay;
  let admin: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    up = await countingUpstream();
    const yaml = `clients: { web: tok-web }
cache: { store: "${redis.url}", timeout: 200ms }
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}
    auth: [web]
    cache:
      paths: ["/v1/embeddings"]
      methods: [POST]
      ttl: 1m
`;
    a = await startTestRelay(yaml);
    b = await startTestRelay(yaml);
    admin = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    admin.on('error', () => undefined);
    await admin.connect();
  });
  afterAll(async () => {
    admin?.disconnect();
    await a?.close();
    await b?.close();
    await up?.close();
    await redis?.close();
  });
  beforeEach(() => {
    up.calls.length = 0;
  });

  const post = (r: TestRelay, input: string) => call(r.url, '/api/v1/embeddings', { headers: WEB, body: JSON.stringify({ input }) });

  it('an entry stored by one relay is a hit on the other; the key is a digest with a TTL', async () => {
    expect((await post(a, 'secret prompt')).headers['x-relay-cache']).toBe('MISS');
    await waitFor(() => up.count() === 1);
    let keys: string[] = [];
    for (let i = 0; i < 50 && keys.length === 0; i++) {
      keys = await admin.keys('ai-relay:c:*');
      if (!keys.length) await sleep(10);
    }
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^ai-relay:c:[0-9a-f]{64}$/);
    const ttl = await admin.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const hit = await post(b, 'secret prompt');
    expect(hit.headers['x-relay-cache']).toBe('HIT');
    expect(up.count()).toBe(1);
  });

  it('a corrupt value is a miss, answered from upstream', async () => {
    await post(a, 'corrupt');
    await sleep(30);
    for (const k of await admin.keys('ai-relay:c:*')) await admin.set(k, 'not an entry');
    const r = await post(b, 'corrupt');
    expect(r.status).toBe(200);
    expect(r.headers['x-relay-cache']).toBe('MISS');
  });

  it('a paused (slow) Redis costs at most the deadline: served from upstream, error counted', async () => {
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const t0 = performance.now();
    const r = await post(a, 'slow');
    const ms = performance.now() - t0;
    expect(r.status).toBe(200);
    expect(r.headers['x-relay-cache']).toBe('MISS');
    expect(ms).toBeLessThan(1000);
    expect(await a.relay.metrics.text()).toMatch(/ai_relay_cache_store_errors_total\{op="get"\} [1-9]/);
    await sleep(1600);
  });

  it('a killed Redis: every request is served from upstream, no 5xx; caching resumes when it is back', async () => {
    await redis.kill();
    const answers = await Promise.all([post(a, 'down-1'), post(a, 'down-1'), post(b, 'down-2')]);
    expect(answers.map((x) => x.status)).toEqual([200, 200, 200]);
    expect(await a.relay.metrics.text()).toMatch(/ai_relay_cache_store_errors_total\{op="get"\} [1-9]/);
    await redis.start();
    // ioredis reconnects on its own (backing off to 2 s); then entries are stored and read again.
    let hit = false;
    for (let i = 0; i < 60 && !hit; i++) {
      await post(a, 'back');
      hit = (await post(b, 'back')).headers['x-relay-cache'] === 'HIT';
      if (!hit) await sleep(100);
    }
    expect(hit).toBe(true);
  });
});
