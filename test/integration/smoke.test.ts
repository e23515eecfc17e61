import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

describe('relay smoke', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream();
    relay = await startTestRelay(`
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}/v1
    auth: none
`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('relays a GET with the prefix stripped and the query intact', async () => {
    const r = await fetch(`${relay.url}/api/models?x=1&y=%2F`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, url: '/v1/models?x=1&y=%2F' });
    expect(up.requests.at(-1)!.url).toBe('/v1/models?x=1&y=%2F');
    expect(r.headers.get('x-request-id')).toBeTruthy();
    expect(r.headers.get('server-timing')).toMatch(/relay;dur=[\d.]+, upstream;dur=[\d.]+/);
  });
});
