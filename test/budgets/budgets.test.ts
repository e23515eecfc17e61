/**
 * Budgets with the memory store through a real relay (spec §12): headers on every response,
 * spending to the limit then 429 budget_exceeded with every field, clients and IPs apart, 20
 * parallel requests on a nearly empty budget, a client that leaves mid-stream still charged, a
 * window that rolls over (injected clock), and usagePath showing only the caller's own spend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRelay } from '../helpers/relay.js';
import { gate, sleep, waitFor } from '../helpers/sse.js';
import { startFakeApis, type FakeUpstream } from '../usage/fake-apis.js';
import { accessLine, call, settled, startBudgetRelay, usage } from './helpers.js';
import { parseConfigText } from '../../src/config/load.js';

const A = 'tok-client-a-1234';
const B = 'tok-client-b-5678';
const CHAT = '/openai/v1/chat/completions';
/** Each chat answer costs 18 tokens (11 in + 7 out). */
const ask = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], ...extra });

function yaml(upstream: string, budget: string, extra = ''): string {
  return `
server:
  usagePath: /usage
  trustProxy: true
clients:
  a: ${A}
  b: ${B}
routes:
  - name: openai
    prefix: /openai
    upstream: ${upstream}
    auth: [a, b]
    cors:
      origins: ["https://app.example"]
    budget:
${budget}
  - name: open
    prefix: /open
    upstream: ${upstream}
    auth: none
    budget:
      - { by: ip, requests: 2, per: day }
${extra}`;
}

let up: FakeUpstream;
let hold = gate();
beforeAll(async () => {
  up = await startFakeApis({ beforeChatEnd: () => hold.wait });
  hold.open();
});
afterAll(() => up.close());

describe('spending to the limit', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startBudgetRelay(yaml(up.url, '      - { by: client, tokens: 40, per: day }'));
  });
  afterAll(() => relay.close());

  it('admits while there is room, then 429 budget_exceeded with every field and header; clients apart', async () => {
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(relay.url, CHAT, ask(), { 'x-proxy-token': A, origin: 'https://app.example' });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-budget-limit')).toBe('40');
      seen.push(Number(r.headers.get('x-budget-remaining')));
      expect(Number(r.headers.get('x-budget-reset'))).toBeGreaterThan(0);
      expect(r.headers.get('access-control-expose-headers')).toMatch(/X-Budget-Limit, X-Budget-Remaining, X-Budget-Reset/);
      await settled(relay);
    }
    // Remaining as of the response start, this request's hold counted: 40 - hold, then less.
    expect(seen[0]).toBeLessThan(40);
    expect(seen[1]).toBeLessThan(seen[0]!);
    const r = await call(relay.url, CHAT, ask(), { 'x-proxy-token': A });
    expect(r.status).toBe(429);
    expect(r.headers.get('x-should-retry')).toBe('false');
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    const retryAfter = Number(r.headers.get('retry-after'));
    expect(Math.abs(retryAfter - (midnight.getTime() - Date.now()) / 1000)).toBeLessThan(5);
    expect(r.headers.get('x-budget-remaining')).toBe('0');
    const err = JSON.parse(r.text).error;
    expect(err).toMatchObject({ type: 'budget_exceeded', route: 'openai', request_id: r.id, limit: 40, used: 54, resets_at: midnight.toISOString() });
    expect(err.message).toMatch(/40 tokens per day by client/);
    expect(up.requests.filter((q) => q.headers['x-request-id'] === r.id)).toHaveLength(0); // never forwarded
    // Client b has its own budget.
    expect((await call(relay.url, CHAT, ask(), { 'x-proxy-token': B })).status).toBe(200);
    expect((await accessLine(relay, r.id)).status).toBe(429);
  });

  it('by: ip counts each address apart; requests budgets count admitted requests', async () => {
    const ip = (a: string) => ({ 'x-forwarded-for': a });
    expect((await call(relay.url, '/open/v1/embeddings', { input: 'x' }, ip('10.0.0.1'))).status).toBe(200);
    expect((await call(relay.url, '/open/v1/embeddings', { input: 'x' }, ip('10.0.0.1'))).status).toBe(200);
    const third = await call(relay.url, '/open/v1/embeddings', { input: 'x' }, ip('10.0.0.1'));
    expect(third.status).toBe(429);
    expect(JSON.parse(third.text).error).toMatchObject({ limit: 2, used: 2 });
    expect((await call(relay.url, '/open/v1/embeddings', { input: 'x' }, ip('10.0.0.2'))).status).toBe(200);
  });

  it('usagePath shows the caller its own spend only; no or a wrong token → 401', async () => {
    await settled(relay);
    const a = await usage(relay.url, A);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ client: 'a', user: null });
    const row = a.body.budgets.find((b: { route: string }) => b.route === 'openai');
    expect(row).toMatchObject({ by: 'client', unit: 'tokens', limit: 40, used: 54, remaining: 0 });
    expect(Date.parse(row.resets_at)).toBeGreaterThan(Date.now());
    const b = await usage(relay.url, B);
    expect(b.body.client).toBe('b');
    expect(b.body.budgets.find((x: { route: string }) => x.route === 'openai')).toMatchObject({ used: 18, remaining: 22 });
    expect(JSON.stringify(b.body)).not.toContain('54');
    expect((await usage(relay.url, undefined)).status).toBe(401);
    expect((await usage(relay.url, 'not-a-token')).status).toBe(401);
  });
});

describe('include_usage injection', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startBudgetRelay(yaml(up.url, '      - { by: client, tokens: 1M, per: day }'));
  });
  afterAll(() => relay.close());

  /** What the upstream sent for the request the relay forwarded, minus the usage-only event. */
  async function expectedStream(forwardedBody: Buffer): Promise<{ full: string; stripped: string }> {
    const res = await fetch(up.url + '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: forwardedBody });
    const full = await res.text();
    const events = full.split(/(?<=\n\n)/);
    return { full, stripped: events.filter((e) => !e.includes('"choices":[]')).join('') };
  }

  it('adds stream_options.include_usage, counts the usage, strips the injected chunk; other bytes identical', async () => {
    const before = up.requests.length;
    const r = await call(relay.url, CHAT, ask({ stream: true }), { 'x-proxy-token': A });
    expect(r.status).toBe(200);
    const fwd = up.requests[before]!;
    const doc = JSON.parse(fwd.body.toString());
    expect(doc.stream_options).toEqual({ include_usage: true });
    expect(Number(fwd.headers['content-length'])).toBe(fwd.body.length);
    const { full, stripped } = await expectedStream(fwd.body);
    expect(full).toContain('"choices":[]');
    expect(r.text).toBe(stripped);
    expect(Buffer.byteLength(r.text)).toBe(Buffer.byteLength(full) - Buffer.byteLength(full.split(/(?<=\n\n)/).find((e) => e.includes('"choices":[]'))!));
    expect((await accessLine(relay, r.id)).usage).toEqual({ input: 11, output: 7, total: 18 });
  });

  it('merges into an existing stream_options (its fields kept)', async () => {
    const before = up.requests.length;
    const r = await call(relay.url, CHAT, ask({ stream: true, stream_options: { include_obfuscation: false } }), { 'x-proxy-token': A });
    expect(JSON.parse(up.requests[before]!.body.toString()).stream_options).toEqual({ include_obfuscation: false, include_usage: true });
    expect(r.text).not.toContain('"choices":[]');
    expect((await accessLine(relay, r.id)).usage).toEqual({ input: 11, output: 7, total: 18 });
  });

  it('a client that asked for usage gets the chunk; its body is forwarded byte for byte', async () => {
    const before = up.requests.length;
    const body = ask({ stream: true, stream_options: { include_usage: true } });
    const r = await call(relay.url, CHAT, body, { 'x-proxy-token': A });
    expect(up.requests[before]!.body.toString()).toBe(JSON.stringify(body));
    expect(r.text).toContain('"choices":[],"usage"');
  });

  it('never injects into the Responses API, non-stream chat or other paths', async () => {
    const before = up.requests.length;
    await call(relay.url, '/openai/v1/responses', { model: 'gpt-4.1', input: 'hi', stream: true }, { 'x-proxy-token': A });
    await call(relay.url, CHAT, ask(), { 'x-proxy-token': A });
    for (const q of up.requests.slice(before)) expect(q.body.toString()).not.toContain('stream_options');
  });
});

describe('parallel requests and aborts', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startBudgetRelay(yaml(up.url, '      - { by: client, tokens: 100, per: day }'));
  });
  afterAll(() => relay.close());

  it('20 parallel requests on a nearly empty budget overspend by at most one request', async () => {
    // 5 × 18 = 90 spent: 10 tokens of room.
    for (let i = 0; i < 5; i++) expect((await call(relay.url, CHAT, ask(), { 'x-proxy-token': A })).status).toBe(200);
    await settled(relay);
    const before = up.requests.length;
    const results = await Promise.all(Array.from({ length: 20 }, () => call(relay.url, CHAT, ask(), { 'x-proxy-token': A })));
    const ok = results.filter((r) => r.status === 200).length;
    expect(results.filter((r) => r.status === 429)).toHaveLength(20 - ok);
    expect(ok).toBe(1); // the first hold takes all 10 tokens of room
    expect(up.requests.length - before).toBe(1);
    await settled(relay);
    const row = (await usage(relay.url, A)).body.budgets.find((b: { route: string }) => b.route === 'openai');
    expect(row.used).toBe(108); // 100 + one request's overshoot (18 - its 10-token hold)
  });

  it('a client that leaves mid-stream is charged its hold (usage: estimated)', async () => {
    const usedBefore = (await usage(relay.url, B)).body.budgets.find((b: { route: string }) => b.route === 'openai').used;
    hold = gate();
    const body = ask({ stream: true, max_tokens: 30 });
    const ac = new AbortController();
    const res = await fetch(relay.url + CHAT, { method: 'POST', headers: { 'content-type': 'application/json', 'x-proxy-token': B, 'x-request-id': 'abort-1' }, body: JSON.stringify(body), signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk arrived; the upstream is holding the rest
    ac.abort();
    const line = await accessLine(relay, 'abort-1');
    hold.open();
    expect(line.usage).toBe('estimated');
    await settled(relay);
    await sleep(20);
    const row = (await usage(relay.url, B)).body.budgets.find((b: { route: string }) => b.route === 'openai');
    expect(row.used - usedBefore).toBe(30 + Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 4));
  });
});

describe('an upstream reset mid-stream', () => {
  it('is charged the hold (usage: estimated)', async () => {
    const relay = await startBudgetRelay(yaml(up.url, '      - { by: client, tokens: 10k, per: day }'));
    try {
      const body = ask({ stream: true, max_tokens: 40 });
      const r = await fetch(relay.url + CHAT + '?reset=1', { method: 'POST', headers: { 'content-type': 'application/json', 'x-proxy-token': A, 'x-request-id': 'reset-1' }, body: JSON.stringify(body) });
      await r.text().catch(() => '');
      const line = await accessLine(relay, 'reset-1');
      expect(line.usage).toBe('estimated');
      expect(String(line.outcome)).toMatch(/stream cut/);
      await settled(relay);
      await sleep(20);
      expect((await usage(relay.url, A)).body.budgets.find((b: { route: string }) => b.route === 'openai').used).toBe(40 + Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 4));
    } finally {
      await relay.close();
    }
  });
});

describe('window rollover (injected clock)', () => {
  it('a day budget refuses until local midnight in budgets.timezone, then admits again', async () => {
    // 2026-03-10 23:59:00 in Moscow (UTC+3) = 20:59:00 UTC.
    let now = Date.UTC(2026, 2, 10, 20, 59, 0);
    const relay = await startBudgetRelay(yaml(up.url, '      - { by: client, tokens: 18, per: day }', 'budgets:\n  timezone: Europe/Moscow\n'), { clock: () => now });
    try {
      expect((await call(relay.url, CHAT, ask(), { 'x-proxy-token': A })).status).toBe(200);
      await settled(relay);
      const r = await call(relay.url, CHAT, ask(), { 'x-proxy-token': A });
      expect(r.status).toBe(429);
      expect(JSON.parse(r.text).error.resets_at).toBe('2026-03-10T21:00:00.000Z');
      expect(r.headers.get('retry-after')).toBe('60');
      now = Date.UTC(2026, 2, 10, 21, 0, 1);
      const next = await call(relay.url, CHAT, ask(), { 'x-proxy-token': A });
      expect(next.status).toBe(200);
      expect(next.headers.get('x-budget-reset')).toBe(String(24 * 3600 - 1));
    } finally {
      await relay.close();
    }
  });
});

describe('no usage when nothing was spent', () => {
  it('an answer read whole that reports no usage (a DALL·E image) charges nothing; refusals are counted apart from rate limits', async () => {
    const relay = await startBudgetRelay(yaml(up.url, '      - { by: client, tokens: 4000, per: day }').replace('server:\n', 'server:\n  metricsPath: /metrics\n'));
    try {
      const r = await call(relay.url, '/openai/v1/images/generations', { model: 'dall-e-3', prompt: 'x' }, { 'x-proxy-token': A });
      expect(r.status).toBe(200);
      expect((await accessLine(relay, r.id)).usage).toBeUndefined();
      await settled(relay);
      expect((await usage(relay.url, A)).body.budgets.find((b: { route: string }) => b.route === 'openai').used).toBe(0);
      // Spend it all (4210 tokens against 4000), then one refusal.
      const big = await call(relay.url, '/openai/v1/images/generations', { model: 'gpt-image-1', prompt: 'x' }, { 'x-proxy-token': A });
      expect(big.status).toBe(200);
      await settled(relay);
      expect((await call(relay.url, CHAT, ask(), { 'x-proxy-token': A })).status).toBe(429);
      await settled(relay);
      const text = await (await fetch(relay.url + '/metrics')).text();
      expect(text).toMatch(/ai_relay_budget_refusals_total\{route="openai",type="budget_exceeded"\} 1/);
      expect(text).not.toMatch(/ai_relay_rate_limited_total\{route="openai"\} [1-9]/);
    } finally {
      await relay.close();
    }
  });

  it('an upstream error releases the hold (charges nothing)', async () => {
    const relay = await startBudgetRelay(yaml(up.url, '      - { by: client, tokens: 1000, per: day }'));
    try {
      const r = await call(relay.url, '/openai/v1/nothing-here', ask(), { 'x-proxy-token': A });
      expect(r.status).toBe(404);
      await settled(relay);
      await waitFor(() => relay.lines().some((l) => l.req_id === r.id), 2000);
      expect((await accessLine(relay, r.id)).usage).toBeUndefined();
      expect((await usage(relay.url, A)).body.budgets.find((b: { route: string }) => b.route === 'openai').used).toBe(0);
    } finally {
      await relay.close();
    }
  });
});

describe('config reload', () => {
  it('keeps the memory store: spend survives a reload', async () => {
    const text = yaml(up.url, '      - { by: client, tokens: 30, per: day }');
    const relay = await startBudgetRelay(text);
    try {
      expect((await call(relay.url, CHAT, ask(), { 'x-proxy-token': A })).status).toBe(200);
      await settled(relay);
      await relay.relay.reload(parseConfigText(text.replace('name: open\n', 'name: open2\n'), 'test.yaml', { env: {} }));
      expect((await usage(relay.url, A)).body.budgets[0]).toMatchObject({ route: 'openai', used: 18 });
      expect((await call(relay.url, CHAT, ask(), { 'x-proxy-token': A })).status).toBe(200);
      await settled(relay);
      expect((await call(relay.url, CHAT, ask(), { 'x-proxy-token': A })).status).toBe(429);
    } finally {
      await relay.close();
    }
  });
});

describe('usagePath under base paths, with CORS', () => {
  it('answers under every base path; CORS as on the caller\'s routes; preflight; foreign origin refused', async () => {
    const relay = await startBudgetRelay(yaml(up.url, '      - { by: client, tokens: 1000, per: week }').replace('server:\n', 'server:\n  basePaths: ["/", "/r"]\n'));
    try {
      const res = await fetch(relay.url + '/r/usage', { headers: { 'x-proxy-token': A, origin: 'https://app.example' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
      const body = (await res.json()) as { budgets: { resets_at: string }[] };
      expect(body.budgets).toEqual([
        expect.objectContaining({ route: 'openai', by: 'client', unit: 'tokens', limit: 1000, used: 0, remaining: 1000 }),
        expect.objectContaining({ route: 'open', by: 'ip', unit: 'requests', limit: 2 }),
      ]);
      // A week window ends on a Monday, 00:00 UTC.
      expect(new Date(body.budgets[0]!.resets_at).getUTCDay()).toBe(1);
      const pre = await fetch(relay.url + '/usage', { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-headers')).toBe('authorization');
      const foreign = await fetch(relay.url + '/usage', { headers: { 'x-proxy-token': A, origin: 'https://evil.example' } });
      expect(foreign.status).toBe(403);
    } finally {
      await relay.close();
    }
  });
});
