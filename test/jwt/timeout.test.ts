/**
 * A JWKS endpoint that accepts the connection and never answers (spec §11: "a fetch gives up
 * after 5 s"): the request waiting on it gets 503 auth_unavailable, not a hang, and /ready says
 * the fetch timed out. Own file: it waits the real 5 s, in parallel with the other JWT files.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { now, startIssuer, type FakeIssuer } from './issuer.js';

let issuer: FakeIssuer;
let upstream: FakeUpstream;
let relay: TestRelay;

beforeAll(async () => {
  issuer = await startIssuer({ mode: 'hang' });
  upstream = await startUpstream();
  relay = await startTestRelay(`clients:
  site:
    jwt:
      issuer: https://slow.test
      jwks: ${issuer.jwksUrl}
      algorithms: [RS256]
      audience: api
routes:
  - name: api
    prefix: /api
    upstream: ${upstream.url}
    auth: [site]
`);
});

afterAll(async () => {
  await relay?.close();
  await Promise.all([issuer?.close(), upstream?.close()]);
});

it('a silent JWKS: 503 auth_unavailable after the 5 s fetch timeout, one fetch, /ready says why', async () => {
  const token = await issuer.sign({ iss: 'https://slow.test', aud: 'api', sub: 'u1', exp: now() + 300 });
  const t0 = performance.now();
  const r = await fetch(`${relay.url}/api/x`, { headers: { authorization: `Bearer ${token}` } });
  const waited = performance.now() - t0;
  expect(r.status).toBe(503);
  expect(((await r.json()) as { error: { type: string; message: string } }).error).toMatchObject({ type: 'auth_unavailable' });
  expect(waited).toBeLessThan(6500);
  // The background fetch at start and the request shared one fetch in flight.
  expect(issuer.fetches).toBe(1);
  const ready = (await (await fetch(`${relay.url}/ready`)).json()) as { routes: { name: string; state: string; problem?: string }[] };
  expect(ready.routes[0]).toMatchObject({ name: 'api', state: 'failing' });
  expect(ready.routes[0]!.problem).toContain('timed out');
  expect(upstream.requests).toHaveLength(0);
}, 10_000);
