/**
 * The README's "Per-user budgets for a public frontend" end to end (issue #16): signed-in users of
 * a JWT issuer (a local JWKS server), each with their own token budget per day; usagePath shows a
 * user only their own spend; the access log names client and user, never the JWT; the response
 * cache keeps users apart too (spec §13: scope client = client and user).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRelay } from '../helpers/relay.js';
import { startFakeApis, type FakeUpstream } from '../usage/fake-apis.js';
import { startIssuer, now, type FakeIssuer } from '../jwt/issuer.js';
import { accessLine, call, settled, startBudgetRelay, usage } from './helpers.js';

const CHAT = '/openai/v1/chat/completions';
/** Each chat answer of the fake costs 18 tokens (11 in + 7 out). */
const ask = { model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };

let up: FakeUpstream;
let issuer: FakeIssuer;
let relay: TestRelay;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  up = await startFakeApis();
  issuer = await startIssuer();
  relay = await startBudgetRelay(`
server:
  usagePath: /usage
clients:
  site:
    jwt:
      issuer: ${issuer.url}/auth/v1
      jwks: ${issuer.jwksUrl}
      algorithms: [RS256]
      audience: authenticated
routes:
  - name: openai
    prefix: /openai
    upstream: ${up.url}
    auth: [site]
    budget:
      - { by: user, tokens: 40, per: day }
  - name: models
    prefix: /models
    upstream: ${up.url}
    auth: [site]
    cache:
      paths: ["/v1/embeddings"]
      methods: [POST]
`);
  for (const sub of ['alice', 'bob']) {
    tokens[sub] = await issuer.sign({ iss: `${issuer.url}/auth/v1`, aud: 'authenticated', sub, exp: now() + 600 });
  }
});
afterAll(async () => {
  await relay?.close();
  await issuer?.close();
  await up?.close();
});

describe('JWT users with their own budgets', () => {
  it('each user spends their own budget: alice runs out, bob is untouched', async () => {
    const bearer = (u: string) => ({ authorization: `Bearer ${tokens[u]}` });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(relay.url, CHAT, ask, bearer('alice'));
      statuses.push(r.status);
      await settled(relay);
      if (r.status === 429) {
        expect(JSON.parse(r.text).error).toMatchObject({ type: 'budget_exceeded', route: 'openai', limit: 40 });
        expect(r.headers.get('x-should-retry')).toBe('false');
        break;
      }
    }
    // 18 tokens each. Admitted while used < limit (spec §12): 18, 36, 54 (the third overshoots,
    // as one request may), then refused.
    expect(statuses).toEqual([200, 200, 200, 429]);
    const b = await call(relay.url, CHAT, ask, bearer('bob'));
    expect(b.status).toBe(200);
    expect(b.headers.get('x-budget-limit')).toBe('40');

    const line = await accessLine(relay, b.id);
    expect(line).toMatchObject({ client: 'site', user: 'bob', usage: { input: 11, output: 7, total: 18 } });
    // The JWT itself never reaches the upstream nor the log.
    expect(relay.logs()).not.toContain(tokens.bob);
    expect(JSON.stringify(up.requests.at(-1)?.headers)).not.toContain(tokens.bob);
  });

  it('usagePath shows a user only their own spend', async () => {
    await settled(relay);
    const a = await usage(relay.url, tokens.alice);
    const b = await usage(relay.url, tokens.bob);
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ client: 'site', user: 'alice', budgets: [{ route: 'openai', by: 'user', unit: 'tokens', limit: 40, used: 54, remaining: 0 }] });
    expect(b.body).toMatchObject({ client: 'site', user: 'bob', budgets: [{ route: 'openai', used: 18, remaining: 22 }] });
    expect((await usage(relay.url, undefined)).status).toBe(401);
    const forged = `${tokens.alice!.slice(0, -4)}AAAA`;
    expect((await usage(relay.url, forged)).status).toBe(401);
  });

  it('the cache keeps users apart: bob never gets alice\'s cached answer', async () => {
    const get = async (u: string) => {
      const r = await fetch(`${relay.url}/models/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens[u]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'text-embedding-3-small', input: 'the same question' }),
      });
      await r.arrayBuffer();
      return r.headers.get('x-relay-cache');
    };
    const before = up.requests.length;
    expect(await get('alice')).toBe('MISS');
    expect(await get('alice')).toBe('HIT');
    expect(await get('bob')).toBe('MISS');
    expect(await get('bob')).toBe('HIT');
    expect(up.requests.length - before).toBe(2);
  });
});
