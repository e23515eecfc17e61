/**
 * Path safety (spec §10 "Paths", reliability A.4 R-07..R-10). Sent over a raw socket so nothing on
 * the client side normalises the request target. Every refusal asserts the upstream saw nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { rawRequest } from '../helpers/raw-request.js';

describe('path escapes → 400 bad_request, upstream never called', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream();
    relay = await startTestRelay(`
server:
  basePaths: ["/", "/r"]
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}/v1
    auth: none
  - name: root
    prefix: /
    upstream: ${up.url}/root
    auth: none
`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it.each([
    ['raw dot-dot', '/api/../x'],
    ['encoded dot-dot', '/api/%2e%2e/x'],
    ['mixed-case half-encoded dot-dot', '/api/.%2E/x'],
    ['single dot segment', '/api/./x'],
    ['encoded slash', '/api/%2f'],
    ['encoded backslash', '/api/%5C'],
    ['raw backslash', '/api\\x'],
    ['empty leading segment (//host)', '//host/x'],
    ['encoded NUL', '/api/a%00b'],
    ['dot-dot under a base path', '/r/api/../x'],
    ['trailing dot-dot', '/api/x/..'],
  ])('%s: %s', async (_what, target) => {
    const n = up.requests.length;
    const r = await rawRequest(relay.url, target);
    expect(r.status).toBe(400);
    const body = JSON.parse(r.body.toString()) as { error: { type: string; request_id: string } };
    expect(body.error.type).toBe('bad_request');
    expect(body.error.request_id).toBe(r.headers['x-request-id']);
    expect(up.requests.length).toBe(n);
  });

  it('a colon inside a segment passes byte for byte', async () => {
    const r = await rawRequest(relay.url, '/api/models/gemini-pro:generateContent?alt=sse', { method: 'POST', body: '{}' });
    expect(r.status).toBe(200);
    expect(up.requests.at(-1)!.url).toBe('/v1/models/gemini-pro:generateContent?alt=sse');
  });

  it('percent-escapes that are not slashes or dots pass unchanged', async () => {
    const r = await rawRequest(relay.url, '/api/files/a%20b%7Ec');
    expect(r.status).toBe(200);
    expect(up.requests.at(-1)!.url).toBe('/v1/files/a%20b%7Ec');
  });

  it('the query string reaches the upstream byte for byte', async () => {
    const r = await rawRequest(relay.url, '/api/x?a=%2F&b=%20&c&d=..%2F..&e=%00');
    expect(r.status).toBe(200);
    expect(up.requests.at(-1)!.url).toBe('/v1/x?a=%2F&b=%20&c&d=..%2F..&e=%00');
  });

  it('absolute-form target: the authority never chooses the upstream', async () => {
    const n = up.requests.length;
    const r = await rawRequest(relay.url, 'http://evil.example/api/x?y=1', { headers: { Host: 'evil.example' } });
    expect(r.status).toBe(200);
    expect(up.requests.length).toBe(n + 1);
    const rec = up.requests.at(-1)!;
    expect(rec.url).toBe('/v1/x?y=1');
    expect(rec.headers.host).toBe(`127.0.0.1:${up.port}`);
  });

  it('absolute-form target with an escape is still refused', async () => {
    const n = up.requests.length;
    const r = await rawRequest(relay.url, 'http://evil.example/api/../x');
    expect(r.status).toBe(400);
    expect(up.requests.length).toBe(n);
  });

  it('a Host header never chooses the upstream either', async () => {
    const r = await rawRequest(relay.url, '/api/h', { headers: { Host: '169.254.169.254' } });
    expect(r.status).toBe(200);
    expect(up.requests.at(-1)!.headers.host).toBe(`127.0.0.1:${up.port}`);
  });
});
