/**
 * The dashboard's budget panel (spec §14 "usage and budgets per client and user for the current
 * windows"): each caller's current window as its last admitted request saw it, read from the
 * exchange (X-Budget-*), so the page costs the budget store nothing; refusals counted apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startFakeApis, type FakeUpstream } from '../usage/fake-apis.js';
import { ADMIN, login } from './helpers.js';

const A = 'dash-budget-client-a-1';
const B = 'dash-budget-client-b-2';

describe('dashboard: budgets in their current windows', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startFakeApis();
    relay = await startTestRelay(
      `
server:
  dashboard:
    path: /_relay
    token: \${ADMIN}
clients:
  a: ${A}
  b: ${B}
routes:
  - name: openai
    prefix: /openai
    upstream: ${up.url}
    auth: [a, b]
    budget:
      - { by: client, tokens: 40, per: day }
`,
      { env: { ADMIN } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  const chat = (token: string) =>
    fetch(`${relay.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-proxy-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    }).then(async (r) => ({ status: r.status, remaining: r.headers.get('x-budget-remaining'), text: await r.text() }));

  it('lists each caller with limit, remaining as of its last request and the reset; least room first', async () => {
    const a1 = await chat(A);
    const a2 = await chat(A);
    const b1 = await chat(B);
    expect([a1.status, a2.status, b1.status]).toEqual([200, 200, 200]);
    const cookie = await login(relay.url);
    const snap = (await (await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).json()) as {
      budgets: { configured: boolean; windows: { route: string; who: string; kind: string; limit: number; remaining: number; resetsAt: number }[] };
    };
    expect(snap.budgets.configured).toBe(true);
    expect(snap.budgets.windows.map((w) => [w.who, w.kind, w.route, w.limit, w.remaining])).toEqual([
      ['a', 'client', 'openai', 40, Number(a2.remaining)],
      ['b', 'client', 'openai', 40, Number(b1.remaining)],
    ]);
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    for (const w of snap.budgets.windows) expect(Math.abs(w.resetsAt - midnight.getTime())).toBeLessThan(5000);
    // Nothing secret in it: no token.
    expect(JSON.stringify(snap)).not.toContain(A);
  });
});
