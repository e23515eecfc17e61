/**
 * Client auth, core part (spec §4 step 5, §10 "Which Authorization goes upstream"): both token
 * headers accepted, 401 with WWW-Authenticate and no upstream call otherwise, the relay token
 * never reaches the upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const TOKEN = 'relay-token-7f3a9c';
const OTHER = 'mobile-token-2b8e1d';
const KEY = 'sk-upstream-real-key-91';

describe('auth', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream();
    relay = await startTestRelay(
      `
clients:
  web: \${PROXY_TOKEN}
  mobile: \${MOBILE_TOKEN}
routes:
  - name: plain
    prefix: /plain
    upstream: ${up.url}
    auth: [web]
  - name: keyed
    prefix: /keyed
    upstream: ${up.url}
    auth: [web, mobile]
    headers:
      set:
        Authorization: Bearer \${OPENAI_API_KEY}
  - name: open
    prefix: /open
    upstream: ${up.url}
    auth: none
`,
      { env: { PROXY_TOKEN: TOKEN, MOBILE_TOKEN: OTHER, OPENAI_API_KEY: KEY } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  const last = () => up.requests.at(-1)!;
  const noToken = () => {
    const raw = JSON.stringify(last().rawHeaders);
    expect(raw).not.toContain(TOKEN);
    expect(raw).not.toContain(OTHER);
  };

  it('accepts X-Proxy-Token and does not forward it', async () => {
    const r = await fetch(`${relay.url}/plain/x`, { headers: { 'x-proxy-token': TOKEN } });
    expect(r.status).toBe(200);
    expect(last().headers['x-proxy-token']).toBeUndefined();
    noToken();
  });

  it('accepts Authorization: Bearer and does not forward it', async () => {
    const r = await fetch(`${relay.url}/plain/x`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(last().headers.authorization).toBeUndefined();
    noToken();
  });

  it.each([
    ['missing', {}],
    ['wrong X-Proxy-Token', { 'x-proxy-token': 'nope-nope' }],
    ['wrong Bearer', { authorization: 'Bearer nope-nope' }],
    ['token of a client not on the route', { 'x-proxy-token': OTHER }],
    ['Basic instead of Bearer', { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }],
    ['underscore header variant', { x_proxy_token: TOKEN }],
  ])('%s → 401 with WWW-Authenticate, upstream not called', async (_what, headers) => {
    const n = up.requests.length;
    const r = await fetch(`${relay.url}/plain/x`, { headers: headers as Record<string, string> });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const body = (await r.json()) as { error: { type: string; route: string; message: string } };
    expect(body.error).toMatchObject({ type: 'unauthorized', route: 'plain' });
    expect(body.error.message).not.toContain(TOKEN);
    expect(up.requests.length).toBe(n);
  });

  it('on a route that sets Authorization, the upstream sees only the configured key', async () => {
    const r = await fetch(`${relay.url}/keyed/x`, { headers: { authorization: `Bearer ${OTHER}` } });
    expect(r.status).toBe(200);
    expect(last().headers.authorization).toBe(`Bearer ${KEY}`);
    noToken();
  });

  it('the client may use X-Proxy-Token and bring its own Authorization on a route that does not set it', async () => {
    const r = await fetch(`${relay.url}/plain/x`, { headers: { 'x-proxy-token': TOKEN, authorization: 'Bearer users-own-key' } });
    expect(r.status).toBe(200);
    expect(last().headers.authorization).toBe('Bearer users-own-key');
    noToken();
  });

  it('a relay token sent in both headers reaches the upstream in neither', async () => {
    const r = await fetch(`${relay.url}/plain/x`, { headers: { 'x-proxy-token': TOKEN, authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(last().headers.authorization).toBeUndefined();
    noToken();
  });

  it('auth: none passes the client\'s own Authorization and needs no token', async () => {
    const r = await fetch(`${relay.url}/open/x`, { headers: { authorization: 'Bearer byo-key-123' } });
    expect(r.status).toBe(200);
    expect(last().headers.authorization).toBe('Bearer byo-key-123');
  });
});
