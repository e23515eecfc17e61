/**
 * A JWT issuer whose key set cannot be fetched (spec §5 `auth_unavailable`, §11): fail closed with
 * 503 while nothing is cached, fetch at most once per cooldown, recover by itself, keep serving
 * from the cached set when the issuer goes down later, and say so in /ready.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { now, startIssuer, type FakeIssuer } from './issuer.js';

const ISS = 'https://down.test';
const COOLDOWN = 1500;

let issuer: FakeIssuer;
let upstream: FakeUpstream;
let relay: TestRelay;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const token = (extra: Record<string, unknown> = {}) => issuer.sign({ iss: ISS, aud: 'api', sub: 'u1', exp: now() + 300 }, extra);
const call = (t: string) => fetch(`${relay.url}/api/x`, { headers: { authorization: `Bearer ${t}` } });

async function readyRoute(): Promise<{ name: string; state: string; problem?: string }> {
  const r = await fetch(`${relay.url}/ready`);
  const body = (await r.json()) as { routes: { name: string; state: string; problem?: string }[] };
  return body.routes.find((x) => x.name === 'api')!;
}

beforeAll(async () => {
  issuer = await startIssuer({ mode: 'error' });
  upstream = await startUpstream();
  relay = await startTestRelay(yaml());
});

const yaml = (extraRoute = '') => `clients:
  site:
    jwt:
      issuer: ${ISS}
      jwks: ${issuer.jwksUrl}
      algorithms: [RS256]
      audience: api
      cooldown: ${COOLDOWN}ms
routes:
  - name: api
    prefix: /api
    upstream: ${upstream.url}
    auth: [site]
  - name: other
    prefix: /other
    upstream: ${upstream.url}
    auth: none
${extraRoute}`;

afterAll(async () => {
  await relay?.close();
  await Promise.all([issuer?.close(), upstream?.close()]);
});

describe('JWKS down at start', () => {
  it('/ready names the failing issuer; requests get 503 auth_unavailable without a fetch each; recovery after the cooldown', async () => {
    // The relay fetches the key set in the background at start; wait for that attempt to fail.
    let route = await readyRoute();
    for (let i = 0; i < 100 && route.state === 'ok'; i++) {
      await sleep(10);
      route = await readyRoute();
    }
    const failedAt = performance.now();
    expect(route.state).toBe('failing');
    expect(route.problem).toContain(issuer.jwksUrl);
    expect(route.problem).toContain('HTTP 503');
    expect((await fetch(`${relay.url}/ready`)).status).toBe(200); // other routes still serve
    expect(issuer.fetches).toBe(1);

    for (let i = 0; i < 5; i++) {
      const r = await call(await token());
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { type: string } }).error.type).toBe('auth_unavailable');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    await readyRoute(); // /ready does not fetch within the cooldown either
    expect(issuer.fetches).toBe(1);
    expect(upstream.requests.length).toBe(0);

    issuer.mode = 'up';
    if (performance.now() - failedAt < COOLDOWN - 300) {
      // Up again, but the cooldown has not passed: still no fetch.
      expect((await call(await token())).status).toBe(503);
      expect(issuer.fetches).toBe(1);
    }
    await sleep(COOLDOWN - (performance.now() - failedAt) + 100);
    const ok = await call(await token());
    expect(ok.status).toBe(200);
    expect(issuer.fetches).toBe(2);
    expect((await readyRoute()).state).toBe('ok');
  });

  it('once keys are cached, an issuer going down does not refuse good tokens, and unknown kids fetch at most once per cooldown', async () => {
    issuer.mode = 'error';
    const before = issuer.fetches;
    expect((await call(await token())).status).toBe(200);
    expect(issuer.fetches).toBe(before); // the cached set is fresh: no fetch

    await sleep(COOLDOWN + 100);
    // An unknown kid after the cooldown: one refetch, which fails; the token is refused (401, the
    // cached set does not know the kid) rather than 503, since a key set is cached.
    const r = await call(await token({ kid: 'unknown-1' }));
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain('no key of the issuer matches');
    expect(issuer.fetches).toBe(before + 1);
    for (let i = 0; i < 5; i++) expect((await call(await token({ kid: `unknown-${i + 2}` }))).status).toBe(401);
    expect(issuer.fetches).toBe(before + 1);
    // Good tokens keep working from the cached set meanwhile.
    expect((await call(await token())).status).toBe(200);
    const route = await readyRoute();
    expect(route.state).toBe('failing');
    expect(route.problem).toContain('serving the keys fetched before');

    // A reload while the issuer is down keeps the cached keys (the key set outlives the table).
    const fetches = issuer.fetches;
    await relay.relay.reload(parseConfigText(yaml(`  - name: added\n    prefix: /added\n    upstream: ${upstream.url}\n    auth: [site]\n`), 'test.yaml', { env: {} }));
    expect(relay.relay.table().routes.map((r) => r.name)).toContain('added');
    expect((await call(await token())).status).toBe(200);
    expect((await fetch(`${relay.url}/added/x`, { headers: { authorization: `Bearer ${await token()}` } })).status).toBe(200);
    expect(issuer.fetches).toBe(fetches);

    // The issuer comes back: /ready notices by itself (one fetch per cooldown, however often read).
    issuer.mode = 'up';
    await sleep(COOLDOWN + 100);
    let state = (await readyRoute()).state;
    for (let i = 0; i < 50 && state !== 'ok'; i++) {
      await sleep(10);
      state = (await readyRoute()).state;
    }
    expect(state).toBe('ok');
    expect(issuer.fetches).toBe(fetches + 1);
  });
});
