/**
 * The official openai SDK against a budgeted route: streaming works (the injected usage chunk is
 * invisible to it), and a budget 429 is not retried — openai-node retries every 429 unless the
 * response says `x-should-retry: false`. Counted on both sides: relay access lines and upstream calls.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRelay } from '../helpers/relay.js';
import { startFakeApis, type FakeUpstream } from '../usage/fake-apis.js';
import { settled, startBudgetRelay } from './helpers.js';

const TOKEN = 'tok-sdk-client-9876';
let up: FakeUpstream;
let relay: TestRelay;

beforeAll(async () => {
  up = await startFakeApis();
  relay = await startBudgetRelay(`
clients:
  web: ${TOKEN}
routes:
  - name: openai
    prefix: /openai
    upstream: ${up.url}
    auth: [web]
    budget:
      - { by: client, tokens: 30, per: day }
`);
});
afterAll(async () => {
  await relay.close();
  await up.close();
});

describe('openai SDK through a budgeted route', () => {
  it('streams (usage chunk it did not ask for stays out), then gets one un-retried budget 429', async () => {
    const client = new OpenAI({ apiKey: TOKEN, baseURL: `${relay.url}/openai/v1`, maxRetries: 2 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      expect(c.choices.length).toBeGreaterThan(0); // no usage-only chunk reached the SDK
      text += c.choices[0]?.delta?.content ?? '';
    }
    expect(text).toBe('Hello!');
    expect(chunks).toBe(5);
    await settled(relay);

    // 18 of 30 spent: the next (18) is admitted, the one after refused.
    await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    await settled(relay);
    const upstreamBefore = up.requests.length;
    const linesBefore = relay.lines().filter((l) => l.status === 429).length;
    const t0 = Date.now();
    const err = await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).type).toBe('budget_exceeded');
    expect(Date.now() - t0).toBeLessThan(2000); // no sleeping on Retry-After
    await settled(relay);
    expect(relay.lines().filter((l) => l.status === 429).length - linesBefore).toBe(1);
    expect(up.requests.length).toBe(upstreamBefore);
  });
});
