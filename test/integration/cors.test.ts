/**
 * CORS basics (spec §4 step 4, §10 "Origins"): preflights answered by the relay, disallowed
 * origins refused and never forwarded, Vary: Origin always, upstream CORS headers replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const SITE = 'https://my-site.example';

describe('cors', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': 'X-Upstream-Secret',
        vary: 'Accept-Encoding',
      });
      res.end('{}');
    });
    relay = await startTestRelay(
      `
clients:
  web: \${PROXY_TOKEN}
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}
    auth: [web]
    cors:
      origins: ["${SITE}", "https://*.my-site.example"]
      maxAge: 10m
  - name: nocors
    prefix: /nocors
    upstream: ${up.url}
    auth: none
`,
      { env: { PROXY_TOKEN: 'cors-token-123' } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  const preflight = (origin: string, path = '/api/v1/chat') =>
    fetch(`${relay.url}${path}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-proxy-token, content-type' },
    });

  it('a preflight from an allowed origin is answered 204 by the relay and never reaches the upstream (no token needed)', async () => {
    const n = up.requests.length;
    const r = await preflight(SITE);
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe(SITE);
    expect(r.headers.get('access-control-allow-headers')).toBe('x-proxy-token, content-type');
    expect(r.headers.get('access-control-allow-methods')).toContain('POST');
    expect(r.headers.get('access-control-max-age')).toBe('600');
    expect(r.headers.get('vary')).toMatch(/Origin/);
    expect(up.requests.length).toBe(n);
  });

  it('wildcard subdomains are allowed', async () => {
    const r = await preflight('https://app.my-site.example');
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('https://app.my-site.example');
  });

  it.each([['https://evil.example'], ['null'], ['https://my-site.example.evil.example'], ['http://my-site.example']])(
    'a preflight from %s → 403 with no CORS headers, upstream not called',
    async (origin) => {
      const n = up.requests.length;
      const r = await preflight(origin);
      expect(r.status).toBe(403);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
      expect(((await r.json()) as { error: { type: string } }).error.type).toBe('forbidden');
      expect(up.requests.length).toBe(n);
    },
  );

  it('an actual request from a disallowed origin → 403, never forwarded (even with a valid token)', async () => {
    const n = up.requests.length;
    const r = await fetch(`${relay.url}/api/x`, { method: 'POST', body: '{}', headers: { origin: 'https://evil.example', 'x-proxy-token': 'cors-token-123' } });
    expect(r.status).toBe(403);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    expect(up.requests.length).toBe(n);
  });

  it('a route without cors refuses requests carrying an Origin', async () => {
    const n = up.requests.length;
    const r = await fetch(`${relay.url}/nocors/x`, { headers: { origin: SITE } });
    expect(r.status).toBe(403);
    expect(up.requests.length).toBe(n);
  });

  it('an allowed actual request gets the relay\'s CORS headers; the upstream\'s are replaced', async () => {
    const r = await fetch(`${relay.url}/api/x`, { headers: { origin: SITE, 'x-proxy-token': 'cors-token-123' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe(SITE);
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
    expect(r.headers.get('access-control-expose-headers')).not.toContain('X-Upstream-Secret');
    expect(r.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
    expect(r.headers.get('vary')).toMatch(/Accept-Encoding/);
    expect(r.headers.get('vary')).toMatch(/Origin/);
  });

  it('Vary: Origin is set even without an Origin, and on relay errors', async () => {
    const ok = await fetch(`${relay.url}/api/x`, { headers: { 'x-proxy-token': 'cors-token-123' } });
    expect(ok.headers.get('vary')).toMatch(/Origin/);
    const denied = await fetch(`${relay.url}/api/x`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('vary')).toMatch(/Origin/);
  });

  it('a 401 to an allowed origin carries CORS headers so the page can read the error', async () => {
    const r = await fetch(`${relay.url}/api/x`, { headers: { origin: SITE } });
    expect(r.status).toBe(401);
    expect(r.headers.get('access-control-allow-origin')).toBe(SITE);
  });
});
