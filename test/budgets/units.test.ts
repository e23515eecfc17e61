/** The pure parts: caller ids (by user included, which needs JWTs end to end), windows, holds, injection, usage shapes. */
import { describe, expect, it } from 'vitest';
import { budgetCallerId } from '../../src/budgets/caller.js';
import { budgetKey } from '../../src/budgets/keys.js';
import { windowAt } from '../../src/budgets/window.js';
import { estimateSpend, holdFor } from '../../src/budgets/estimate.js';
import { injectIncludeUsage, isChatCompletionsPath } from '../../src/budgets/inject.js';
import { MemoryBudgetStore } from '../../src/budgets/memory-store.js';
import { UsageReader } from '../../src/usage/reader.js';

describe('budget caller id', () => {
  it('a user is <client>:<claim>; two issuers never share a user; no user → the IP', () => {
    expect(budgetCallerId('user', { client: 'site', user: 'u-1', ip: '1.2.3.4' })).toBe('user:site:u-1');
    expect(budgetCallerId('user', { client: 'other', user: 'u-1', ip: '1.2.3.4' })).not.toBe(budgetCallerId('user', { client: 'site', user: 'u-1', ip: '1.2.3.4' }));
    expect(budgetCallerId('user', { client: 'web', user: undefined, ip: '1.2.3.4' })).toBe('ip:1.2.3.4');
    expect(budgetCallerId('client', { client: undefined, user: undefined, ip: '2001:db8:1:2:3:4:5:6' })).toBe('ip:2001:db8:1:2::/64');
    expect(budgetCallerId('ip', { client: 'web', user: 'x', ip: '1.2.3.4' })).toBe('ip:1.2.3.4');
  });
  it('keys: ai-relay:b:<route>:<by>:<sha256 hex>:<window>, no id in clear', () => {
    const k = budgetKey('openai', 'user', 'user:site:alice@example.com', 'd2026-12-06');
    expect(k).toMatch(/^ai-relay:b:openai:user:[0-9a-f]{64}:d2026-12-06$/);
    expect(k).not.toContain('alice');
  });
});

describe('windows', () => {
  it('day in a zone, week from Monday, month end, fixed durations on the epoch', () => {
    const t = Date.UTC(2026, 11, 6, 22, 30); // Sunday 2026-12-06 22:30 UTC = Monday 01:30 in Moscow
    expect(windowAt('day', t, 'UTC')).toEqual({ id: 'd2026-12-06', end: Date.UTC(2026, 11, 7) });
    expect(windowAt('day', t, 'Europe/Moscow')).toEqual({ id: 'd2026-12-07', end: Date.UTC(2026, 11, 7, 21) });
    expect(windowAt('week', t, 'UTC')).toEqual({ id: 'w2026-11-30', end: Date.UTC(2026, 11, 7) });
    expect(windowAt('week', t, 'Europe/Moscow')).toEqual({ id: 'w2026-12-07', end: Date.UTC(2026, 11, 13, 21) });
    expect(windowAt('month', Date.UTC(2026, 0, 31, 12), 'UTC')).toEqual({ id: 'm2026-01', end: Date.UTC(2026, 1, 1) });
    expect(windowAt('month', Date.UTC(2026, 1, 28, 23, 59), 'UTC').end).toBe(Date.UTC(2026, 2, 1));
    expect(windowAt(3600_000, Date.UTC(2026, 0, 1, 5, 30), 'Europe/Moscow')).toEqual({ id: `3600000ms${(Date.UTC(2026, 0, 1, 5) / 3600_000)}`, end: Date.UTC(2026, 0, 1, 6) });
  });
  it('a DST day is 23 or 25 hours long', () => {
    const spring = windowAt('day', Date.UTC(2026, 2, 29, 12), 'Europe/Berlin');
    expect(spring.end).toBe(Date.UTC(2026, 2, 29, 22)); // midnight CEST
    const start = windowAt('day', Date.UTC(2026, 2, 28, 12), 'Europe/Berlin').end;
    expect(spring.end - start).toBe(23 * 3600_000);
  });
});

describe('holds and injection', () => {
  it('output cap from the request, else the default; input ≈ bytes / 4', () => {
    expect(estimateSpend({ max_completion_tokens: 300 }, 400)).toEqual({ outputCap: 300, input: 100 });
    expect(estimateSpend({ generationConfig: { maxOutputTokens: 50 } }, 1)).toEqual({ outputCap: 50, input: 1 });
    expect(estimateSpend({ max_output_tokens: 'lots' }, 0).outputCap).toBeUndefined();
    expect(holdFor({ outputCap: undefined, input: 10 }, 'total', 4096)).toBe(4106);
    expect(holdFor({ outputCap: 20, input: 10 }, 'input', 4096)).toBe(10);
    expect(holdFor({ outputCap: 20, input: 10 }, 'output', 4096)).toBe(20);
  });
  it('include_usage: inserted after the brace with no re-serialisation; merged; never when asked or not streaming', () => {
    const raw = Buffer.from('{ "model":"m",  "stream": true, "seed": 12345678901234567890 }');
    expect(injectIncludeUsage(raw, JSON.parse(raw.toString()))!.toString()).toBe('{"stream_options":{"include_usage":true}, "model":"m",  "stream": true, "seed": 12345678901234567890 }');
    const so = { stream: true, stream_options: { include_usage: false, include_obfuscation: false } };
    expect(JSON.parse(injectIncludeUsage(Buffer.from(JSON.stringify(so)), so)!.toString()).stream_options).toEqual({ include_usage: true, include_obfuscation: false });
    expect(injectIncludeUsage(Buffer.from('{}'), { stream: true, stream_options: { include_usage: true } })).toBeUndefined();
    expect(injectIncludeUsage(Buffer.from('{}'), { stream: false })).toBeUndefined();
    expect(isChatCompletionsPath('/v1/chat/completions')).toBe(true);
    expect(isChatCompletionsPath('/v1/responses')).toBe(false);
  });
});

describe('memory store', () => {
  it('holds capped by room; refused at used + held ≥ limit; holds expire; LRU bounded', async () => {
    let now = 0;
    const s = new MemoryBudgetStore(2, () => now);
    const line = (amount: number) => [{ key: 'k', limit: 100, amount, requests: false, expireAt: 1e9 }];
    expect(await s.hold('a', line(70), 1000)).toEqual({ ok: true, lines: [{ used: 0, held: 70, hold: 70 }] });
    expect(await s.hold('b', line(70), 1000)).toEqual({ ok: true, lines: [{ used: 0, held: 100, hold: 30 }] });
    expect(await s.hold('c', line(1), 1000)).toEqual({ ok: false, index: 0, used: 0, held: 100 });
    now = 1001; // both holds expired
    expect(await s.hold('d', line(10), 1000)).toMatchObject({ ok: true });
    await s.settle('d', [{ key: 'k', charge: 7, expireAt: 1e9 }]);
    expect(await s.peek(['k'])).toEqual([{ used: 7, held: 0 }]);
    await s.hold('e', [{ key: 'k2', limit: 5, amount: 1, requests: true, expireAt: 1e9 }], 1000);
    await s.hold('f', [{ key: 'k3', limit: 5, amount: 1, requests: true, expireAt: 1e9 }], 1000);
    expect(s.size).toBe(2);
    expect(await s.peek(['k'])).toEqual([{ used: 0, held: 0 }]); // the least recently used went first
  });
});

describe('usage reader', () => {
  it('Gemini running totals: the last, never the sum; Anthropic: start + last delta', () => {
    const r = new UsageReader();
    for (const c of [2, 5, 9]) r.see({ usageMetadata: { promptTokenCount: 10, candidatesTokenCount: c, totalTokenCount: 10 + c } });
    expect(r.usage).toEqual({ input: 10, output: 9, total: 19 });
    const a = new UsageReader();
    a.see({ type: 'message_start', message: { usage: { input_tokens: 5, cache_read_input_tokens: 3, output_tokens: 1 } } });
    a.see({ type: 'message_delta', usage: { output_tokens: 4 } });
    a.see({ type: 'message_delta', usage: { output_tokens: 9 } });
    expect(a.usage).toEqual({ input: 8, output: 9, total: 17 });
    const bad = new UsageReader();
    bad.see({ usage: { prompt_tokens: 'x' } });
    bad.see(null);
    bad.see([1, 'a', { usage: null }]);
    expect(bad.usage).toBeUndefined();
  });
});

describe('route budgets by user', () => {
  it('a JWT user has its own budget, apart from its client and from the IP fallback', async () => {
    const { RouteBudgets } = await import('../../src/budgets/route-budgets.js');
    const { createBudgetService } = await import('../../src/budgets/service.js');
    const { captureLogger } = await import('../rate-limit/capture-log.js');
    const store = new MemoryBudgetStore(100, () => Date.UTC(2026, 5, 1, 12));
    const svc = createBudgetService({ store: 'memory', timezone: 'UTC', onStoreError: 'closed', maxCallers: 100 }, store, { now: () => Date.UTC(2026, 5, 1, 12), log: captureLogger().log });
    const rb = new RouteBudgets('openai', [{ by: 'user', tokens: 100, per: 'day', count: 'total', hold: 50 }], svc, 60_000);
    const est = { outputCap: undefined, input: 0 };
    const alice = { client: 'site', user: 'alice', ip: '1.2.3.4' };
    const t1 = await rb.admit(alice, est, 'r1');
    expect(t1).toMatchObject({ headers: { 'x-budget-limit': '100', 'x-budget-remaining': '50' } });
    (t1 as { settle(u: unknown, c: boolean): void }).settle({ input: 60, output: 40, total: 100 }, false);
    await new Promise((r) => setImmediate(r));
    expect(await rb.admit(alice, est, 'r2')).toMatchObject({ type: 'budget_exceeded', details: { limit: 100, used: 100, resets_at: '2026-06-02T00:00:00.000Z' } });
    // Another user of the same client, and the same person without a JWT (IP fallback), are apart.
    expect(await rb.admit({ ...alice, user: 'bob' }, est, 'r3')).toHaveProperty('settle');
    expect(await rb.admit({ ...alice, user: undefined }, est, 'r4')).toHaveProperty('settle');
    expect(rb.lines(alice)[0]!.key).not.toBe(rb.lines({ ...alice, user: undefined })[0]!.key);
  });
});
