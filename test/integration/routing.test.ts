/**
 * Routing contract (spec §4 steps 2–3, §10 Health): base paths, health JSON, longest prefix on
 * segment boundaries, stripPrefix, methods → 405 with Allow, 404 no_route body shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

describe('routing', () => {
  let a: FakeUpstream;
  let b: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    a = await startUpstream();
    b = await startUpstream();
    relay = await startTestRelay(`
server:
  basePaths: ["/", "/r"]
routes:
  - name: openai
    prefix: /openai
    upstream: ${a.url}/v1
    auth: none
  - name: special
    prefix: /openai/special
    upstream: ${b.url}
    auth: none
  - name: keep
    prefix: /keep
    upstream: ${b.url}/base
    stripPrefix: false
    auth: none
  - name: readonly
    prefix: /ro
    upstream: ${b.url}
    methods: [GET, HEAD]
    auth: none
  - name: off
    prefix: /off
    upstream: ${b.url}
    auth: none
    headers:
      set:
        X-Key: \${OFF_KEY}
`);
  });
  afterAll(async () => {
    await relay?.close();
    await a?.close();
    await b?.close();
  });

  const last = (u: FakeUpstream) => u.requests.at(-1)!;

  it.each(['', '/r'])('serves routes under base path "%s"', async (base) => {
    const n = a.requests.length;
    const r = await fetch(`${relay.url}${base}/openai/models`);
    expect(r.status).toBe(200);
    expect(a.requests.length).toBe(n + 1);
    expect(last(a).url).toBe('/v1/models');
  });

  it.each(['', '/r'])('answers the health JSON under base path "%s" (enabled count + disabled list)', async (base) => {
    const n = a.requests.length + b.requests.length;
    const r = await fetch(`${relay.url}${base}/health`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toEqual({ status: 'ok', version: expect.any(String), routes: 4, disabled: ['off'], uptime: expect.any(Number) });
    expect(a.requests.length + b.requests.length).toBe(n); // never reaches an upstream
  });

  it('picks the longest matching prefix', async () => {
    const r = await fetch(`${relay.url}/openai/special/x`);
    expect(r.status).toBe(200);
    expect(last(b).url).toBe('/x');
    const r2 = await fetch(`${relay.url}/openai/specialx`);
    expect(r2.status).toBe(200);
    expect(last(a).url).toBe('/v1/specialx'); // not /openai/special: not a segment boundary
  });

  it('matches the prefix itself with nothing after it', async () => {
    const r = await fetch(`${relay.url}/openai`);
    expect(r.status).toBe(200);
    expect(last(a).url).toBe('/v1');
  });

  it('matches only on segment boundaries: /openaix → 404 no_route with the error shape', async () => {
    const n = a.requests.length + b.requests.length;
    const r = await fetch(`${relay.url}/openaix/models`, { headers: { 'x-request-id': 'rid-404' } });
    expect(r.status).toBe(404);
    const body = (await r.json()) as { error: Record<string, unknown> };
    expect(body).toEqual({ error: { type: 'no_route', message: expect.stringContaining('/openaix/models'), route: null, request_id: 'rid-404' } });
    expect(r.headers.get('x-request-id')).toBe('rid-404');
    expect(a.requests.length + b.requests.length).toBe(n);
  });

  it('stripPrefix: false keeps the prefix in the upstream path', async () => {
    const r = await fetch(`${relay.url}/r/keep/a/b?q=1`);
    expect(r.status).toBe(200);
    expect(last(b).url).toBe('/base/keep/a/b?q=1');
  });

  it('methods: a method outside the list → 405 with Allow, upstream not called', async () => {
    const n = b.requests.length;
    const r = await fetch(`${relay.url}/ro/x`, { method: 'POST', body: 'x' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
    const body = (await r.json()) as { error: { type: string; route: string } };
    expect(body.error).toMatchObject({ type: 'method_not_allowed', route: 'readonly' });
    expect(b.requests.length).toBe(n);
    const ok = await fetch(`${relay.url}/ro/x`);
    expect(ok.status).toBe(200);
  });

  it('a base path alone is not a route: /r/openaix → 404', async () => {
    const r = await fetch(`${relay.url}/r/openaix`);
    expect(r.status).toBe(404);
  });
});
