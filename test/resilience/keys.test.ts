/** Key pools: rest on 401/403/429, replay the same request on the next key, 429 when all rest. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const KEYS = ['sk-key-one-aaaaaaaaaaaa', 'sk-key-two-bbbbbbbbbbbb'];

describe('key pool', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  const verdict = new Map<string, { status: number; retryAfter?: string }>();

  beforeAll(async () => {
    up = await startUpstream((req, res, rec) => {
      const key = String(req.headers.authorization).replace('Bearer ', '');
      const v = verdict.get(key);
      if (v) {
        res.writeHead(v.status, { 'content-type': 'application/json', ...(v.retryAfter ? { 'retry-after': v.retryAfter } : {}) });
        return res.end(JSON.stringify({ error: { message: `quota exceeded for ${key.slice(0, 6)}…` } }));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ key: KEYS.indexOf(key), echo: rec.body.toString() }));
    });
    relay = await startTestRelay(
      `
routes:
  - name: pool
    prefix: /pool
    upstream: ${up.url}
    auth: none
    keys:
      header: Authorization
      format: "Bearer {key}"
      values: [\${K1}, \${K2}]
      cooldown: 60s
`,
      { env: { K1: KEYS[0], K2: KEYS[1] } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  const post = (body: string) => fetch(`${relay.url}/pool/v1/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('round-robins over the keys', async () => {
    const a = (await (await post('{"n":1}')).json()) as { key: number };
    const b = (await (await post('{"n":2}')).json()) as { key: number };
    expect(new Set([a.key, b.key])).toEqual(new Set([0, 1]));
  });

  it('a POST that gets 429 on one key is replayed on the other with the same body', async () => {
    verdict.set(KEYS[0]!, { status: 429, retryAfter: '2' });
    const seen = up.requests.length;
    // Whichever key comes first, within two requests one hits key 1 and must be replayed.
    for (let i = 0; i < 2; i++) {
      const r = await post(`{"prompt":"same body ${i}"}`);
      expect(r.status).toBe(200);
      expect(((await r.json()) as { key: number }).key).toBe(1);
    }
    const recs = up.requests.slice(seen);
    const bodies = recs.map((r) => r.body.toString());
    const replayed = bodies.find((b, i) => bodies.indexOf(b) !== i);
    expect(replayed).toBeDefined(); // the upstream saw the same body twice
    const pair = recs.filter((r) => r.body.toString() === replayed).map((r) => r.headers.authorization);
    expect(pair).toEqual([`Bearer ${KEYS[0]}`, `Bearer ${KEYS[1]}`]);
  });

  it('a resting key is skipped; all keys resting → 429 rate_limited with the shortest rest', async () => {
    verdict.set(KEYS[1]!, { status: 401 });
    const r1 = await post('{"x":1}'); // key 2 answers 401 → rests 60 s; key 1 rests (Retry-After 2)
    expect([401, 429]).toContain(r1.status);
    const r2 = await post('{"x":2}');
    expect(r2.status).toBe(429);
    const body = (await r2.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('rate_limited');
    const ra = Number(r2.headers.get('retry-after'));
    expect(ra).toBeGreaterThanOrEqual(1);
    expect(ra).toBeLessThanOrEqual(2); // Retry-After of key 1 (2 s), not the 60 s cooldown
  });

  it('cooldown honours the upstream Retry-After: key 1 is back after ~2 s', async () => {
    verdict.clear();
    await new Promise((r) => setTimeout(r, 2100));
    const r = await post('{"back":true}');
    expect(r.status).toBe(200);
    expect(((await r.json()) as { key: number }).key).toBe(0);
  });

  it('logs name keys by index, never by value', () => {
    const logs = relay.logs();
    expect(logs).toMatch(/key #0 of route pool answered 429/);
    for (const k of KEYS) expect(logs).not.toContain(k);
  });
});
