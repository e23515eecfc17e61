/**
 * Two relay PROCESSES (bin/ai-relay.js, as users run it) on one redis-server (issues #16, #17):
 * they share one budget exactly — requests alternate between them and the (N+1)th is refused
 * wherever it lands — and a cache entry stored by one is a hit on the other. Unlike the
 * in-process Redis tests, nothing is shared but Redis itself: no connection, no memory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { checkRedis, freePort, startRedis, type TestRedis } from '../helpers/redis.js';
import { startFakeApis, type FakeUpstream } from '../usage/fake-apis.js';

const tool = checkRedis();
const TOKEN = 'two-process-token-7c1e';
const CHAT = '/openai/v1/chat/completions';
const ask = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });

/** Starts two `ai-relay serve` processes on one config; stops them (and cleans up) in afterAll. */
function twoRelays(config: (redisUrl: string, upstreamUrl: string) => string): { relays: { cli: CliProcess; url: string }[]; up: () => FakeUpstream } {
  let redis: TestRedis;
  let upstream: FakeUpstream;
  let dir: string;
  const relays: { cli: CliProcess; url: string }[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    upstream = await startFakeApis();
    dir = mkdtempSync(path.join(os.tmpdir(), 'ai-relay-two-'));
    const file = path.join(dir, 'relay.yaml');
    writeFileSync(file, config(redis.url, upstream.url));
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const cli = await startCli(['serve', '--config', file, '--port', String(port)]);
      await cli.waitFor(/ai-relay listening/, 15_000);
      relays.push({ cli, url: `http://127.0.0.1:${port}` });
    }
  }, 40_000);
  afterAll(async () => {
    for (const r of relays) {
      r.cli.child.kill('SIGTERM');
      await r.cli.exited;
    }
    await upstream?.close();
    await redis?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return { relays, up: () => upstream };
}

const header = (extra: string) => `server:
  host: 127.0.0.1
log:
  format: json
clients:
  web: ${TOKEN}
${extra}`;

describe.skipIf(!tool.available && !tool.mustFail)('two relay processes on one Redis', () => {
  const { relays } = twoRelays(
    (redisUrl, upstreamUrl) =>
      header(`budgets:
  store: ${redisUrl}
routes:
  - name: openai
    prefix: /openai
    upstream: ${upstreamUrl}
    auth: [web]
    budget:
      - { by: client, requests: 5, per: day }
`),
  );

  const post = async (url: string, p: string, body: string) => {
    const r = await fetch(url + p, { method: 'POST', headers: { 'x-proxy-token': TOKEN, 'content-type': 'application/json' }, body });
    return { status: r.status, headers: r.headers, text: await r.text() };
  };

  it('share one requests budget exactly: 5 admitted across both, the 6th and 7th refused on either', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post(relays[i % 2]!.url, CHAT, ask)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const r = await post(relays[1]!.url, CHAT, ask);
    expect(JSON.parse(r.text).error).toMatchObject({ type: 'budget_exceeded', limit: 5, used: 5 });
  });
});

describe.skipIf(!tool.available && !tool.mustFail)('two relay processes share cache entries', () => {
  const { relays, up: upstream } = twoRelays(
    (redisUrl, upstreamUrl) =>
      header(`cache:
  store: ${redisUrl}
routes:
  - name: openai
    prefix: /openai
    upstream: ${upstreamUrl}
    auth: [web]
    cache:
      paths: ["/v1/embeddings"]
      methods: [POST]
`),
  );

  it('stored by one process, a HIT with the same bytes on the other; one upstream call', async () => {
    const body = JSON.stringify({ model: 'text-embedding-3-small', input: 'shared across processes' });
    const send = (url: string) => fetch(`${url}/openai/v1/embeddings`, { method: 'POST', headers: { 'x-proxy-token': TOKEN, 'content-type': 'application/json' }, body });
    const up = upstream();
    const before = up.requests.length;
    const a = await send(relays[0]!.url);
    const aText = await a.text();
    expect([a.status, a.headers.get('x-relay-cache')]).toEqual([200, 'MISS']);
    // The entry is written after the answer ended: give the SET its round trip.
    let b: Response | undefined;
    for (let i = 0; i < 50; i++) {
      b = await send(relays[1]!.url);
      if (b.headers.get('x-relay-cache') === 'HIT') break;
      await b.arrayBuffer();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(b!.headers.get('x-relay-cache')).toBe('HIT');
    expect(await b!.text()).toBe(aText);
    // Misses while waiting for the SET each went upstream; the hit did not.
    const calls = up.requests.length - before;
    const hit = await send(relays[1]!.url);
    await hit.arrayBuffer();
    expect(hit.headers.get('x-relay-cache')).toBe('HIT');
    expect(up.requests.length - before).toBe(calls);
  });
});
