/**
 * Never a secret (spec §14): after traffic carrying client tokens, `key=` queries, injected pool
 * keys, OAuth tokens and distinctive bodies — and upstream errors that echo a key — none of them
 * appears in the page, the JSON snapshot or the event feed.
 *
 * The feed is read for 3 s after the traffic (not 10): updates come at most once a second and each
 * carries the whole state plus every new tail entry, so three updates cover everything the feed
 * can say about this traffic; the snapshot taken afterwards covers the rest.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { sleep, waitFor } from '../helpers/sse.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { ADMIN, login, openEvents } from './helpers.js';

const S = {
  client: 'client-secret-token-41d8',
  poolKey1: 'sk-pool-key-one-7f3a9b',
  poolKey2: 'sk-pool-key-two-c82e11',
  oauthSecret: 'oauth-client-secret-55aa',
  oauthToken: 'oauth-access-token-99ff',
  query: 'query-key-value-3b3b',
  body: 'BODY-MARKER-do-not-show-1f1f',
  reply: 'RESPONSE-MARKER-do-not-show-2e2e',
  jwtish: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
};

let up: FakeUpstream;
let relay: TestRelay;
beforeAll(async () => {
  up = await startUpstream((req, res, rec) => {
    if (req.url?.startsWith('/token')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ access_token: S.oauthToken, expires_in: 3600 }));
    }
    // The first pool key is "revoked": the answer echoes it, as Gemini echoes a bad key.
    if (req.headers.authorization === `Bearer ${S.poolKey1}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: `API key ${S.poolKey1} is invalid` }));
    }
    if (req.url?.includes('fail')) {
      res.writeHead(500, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: `upstream failed with ${req.headers.authorization} ${rec.body}` }));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ text: S.reply }));
  });
  relay = await startTestRelay(
    `
server:
  dashboard:
    path: /_relay
    token: \${ADMIN}
clients:
  web: \${CLIENT}
routes:
  - name: pool
    prefix: /pool
    upstream: ${up.url}
    auth: [web]
    keys:
      values: ["\${K1}", "\${K2}"]
  - name: oauth
    prefix: /oauth
    upstream: ${up.url}
    auth: [web]
    oauth:
      type: client-credentials
      tokenUrl: ${up.url}/token
      clientId: relay
      clientSecret: \${OS}
  - name: down
    prefix: /down
    upstream: http://127.0.0.1:1
    auth: [web]
    retries: 0
`,
    { env: { ADMIN, CLIENT: S.client, K1: S.poolKey1, K2: S.poolKey2, OS: S.oauthSecret } },
  );
});
afterAll(async () => {
  await relay?.close();
  await up?.close();
});

function expectClean(text: string, where: string, names = true): void {
  for (const [name, secret] of Object.entries(S)) expect(text.includes(secret), `${name} in ${where}`).toBe(false);
  expect(text.includes(ADMIN), `admin token in ${where}`).toBe(false);
  // Data only (the page's code legitimately contains such words): no query, no header names.
  if (names) expect(text, where).not.toMatch(/key=|authorization|x-goog-api-key|bearer |\?/i);
}

it('shows no token, key, query string or body anywhere on the page, in the snapshot or in the feed', async () => {
  const cookie = await login(relay.url);
  const sse = await openEvents(`${relay.url}/_relay/events`, cookie);
  await waitFor(() => sse.events.length >= 1, 2000, 'the snapshot');
  const send = (p: string, init: RequestInit = {}) => fetch(relay.url + p, { ...init, headers: { authorization: `Bearer ${S.client}`, ...(init.headers as Record<string, string>) } }).then((r) => r.text());
  const replies = await Promise.all([
    send(`/pool/v1/chat?key=${S.query}&alt=sse`, { method: 'POST', body: JSON.stringify({ prompt: S.body }), headers: { 'content-type': 'application/json', 'x-goog-api-key': S.jwtish } }),
    send(`/oauth/v1/chat?key=${S.query}`, { method: 'POST', body: S.body }),
    send(`/pool/fail?key=${S.query}`, { method: 'POST', body: S.body }),
    send(`/down/v1?key=${S.query}`),
    fetch(`${relay.url}/pool/v1?key=${S.query}`, { headers: { authorization: `Bearer ${S.jwtish}` } }).then((r) => r.text()),
  ]);
  // The traffic really carried the secrets (else this test would prove nothing).
  expect(replies[0]).toContain(S.reply);
  expect(up.requests.some((r) => r.headers.authorization === `Bearer ${S.poolKey1}`)).toBe(true);
  expect(up.requests.some((r) => r.headers.authorization === `Bearer ${S.oauthToken}`)).toBe(true);
  expect(up.requests.some((r) => r.url.includes(S.query) && r.body.toString().includes(S.body))).toBe(true);

  await sleep(3000);
  sse.close();
  const snapshot = await (await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).text();
  const doc = JSON.parse(snapshot) as { tail: { path: string }[]; pools: { keys: { alias: string; lastError: unknown }[] }[]; oauth: { expiresAt: number | null }[]; egress: { route: string; lastError: unknown }[] };
  // The panels do have content: paths without queries, the key that rested, the token's expiry.
  expect(doc.tail.map((e) => e.path)).toContain('/pool/v1/chat');
  expect(doc.pools[0]!.keys[0]!.alias).toMatch(/^#0 [0-9a-f]{4}$/);
  expect(doc.pools[0]!.keys[0]!.lastError).toMatchObject({ status: 401 });
  expect(doc.oauth[0]!.expiresAt).toBeGreaterThan(Date.now());
  expect(doc.egress.find((e) => e.route === 'down')!.lastError).not.toBeNull();
  expect(sse.events.length).toBeGreaterThanOrEqual(2);

  const page = await (await fetch(`${relay.url}/_relay`, { headers: { cookie } })).text();
  const js = await (await fetch(`${relay.url}/_relay/app.js`)).text();
  expectClean(page + js, 'the page', false);
  expectClean(snapshot, 'the snapshot');
  expectClean(sse.events.map((e) => e.data).join('\n'), 'the feed');
});
