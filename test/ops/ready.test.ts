/**
 * healthPath vs readyPath: health is liveness only; ready carries per-route state — disabled
 * routes with the missing variables, and routes whose credentials are failing (here: a key pool
 * whose only key was rested by a 429) — without taking the relay out of rotation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';

describe('ready', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '60' });
      res.end('{"error":"slow down"}');
    });
    relay = await startTestRelay(
      `
server:
  basePaths: ["/", "/r"]
routes:
  - name: pooled
    prefix: /pooled
    upstream: ${up.url}
    auth: none
    keys:
      values: [k-only-one]
  - name: needs-var
    prefix: /nv
    upstream: ${up.url}
    auth: none
    headers:
      set:
        X-Key: \${MISSING_KEY}
  - name: fine
    prefix: /fine
    upstream: ${up.url}
    auth: none
`,
      { env: {} },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('reports disabled routes and failing credentials per route, and stays 200', async () => {
    const before = await (await fetch(`${relay.url}/r/ready`)).json();
    expect(before).toEqual({
      status: 'ready',
      routes: expect.arrayContaining([
        { name: 'pooled', state: 'ok' },
        { name: 'needs-var', state: 'disabled', reason: 'variable MISSING_KEY is not set', missing: ['MISSING_KEY'] },
        { name: 'fine', state: 'ok' },
      ]),
    });
    expect((await fetch(`${relay.url}/pooled/x`)).status).toBe(429);
    const res = await fetch(`${relay.url}/ready`);
    expect(res.status).toBe(200);
    const after = (await res.json()) as { routes: { name: string }[] };
    expect(after.routes.find((r) => r.name === 'pooled')).toEqual({ name: 'pooled', state: 'failing', problem: 'every key is resting' });
    const health = await (await fetch(`${relay.url}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', routes: 2, disabled: ['needs-var'] });
  });
});
