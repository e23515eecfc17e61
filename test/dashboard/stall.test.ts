/**
 * A dashboard client that stops reading (socket never drained) costs bounded memory and is
 * dropped, while the relay keeps serving (spec §14 "a slow or stalled dashboard client costs
 * bounded memory and is dropped").
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_BUFFERED } from '../../src/dashboard/events.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/sse.js';
import { CLIENT, dashboardYaml, env, login } from './helpers.js';

let up: FakeUpstream;
let relay: TestRelay;
beforeAll(async () => {
  up = await startUpstream((_req, res) => res.end('ok'));
  relay = await startTestRelay(dashboardYaml(up.url), { env });
});
afterAll(async () => {
  await relay?.close();
  await up?.close();
});

it('drops an events client that stops reading, with its buffer bounded, and keeps serving', async () => {
  const cookie = await login(relay.url);
  const { port } = new URL(relay.url);
  const sock = net.connect(Number(port), '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(`GET /_relay/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${cookie}\r\n\r\n`);
  sock.pause(); // never read: the kernel buffers fill, then the relay's writes stop draining
  sock.on('error', () => {});
  const hub = relay.relay.dashboard!.hub;
  await waitFor(() => hub.size === 1, 2000, 'the events stream');

  const started = Date.now();
  // Traffic with long paths makes each update large (up to 2,000 tail entries of ~400 bytes).
  const longPath = `/v1/${'x'.repeat(280)}`;
  let served = 0;
  // The kernel takes a few MB first (socket buffers); then writes stop draining and STALL_MS runs.
  let droppedAt = 0;
  while (Date.now() - started < 25_000) {
    const batch = await Promise.all(Array.from({ length: 100 }, () => fetch(relay.url + longPath, { headers: { 'x-proxy-token': CLIENT } }).then((r) => r.text().then(() => r.status))));
    served += batch.filter((s) => s === 200).length;
    if (hub.size === 0) {
      droppedAt = Date.now();
      break;
    }
  }
  expect(droppedAt, 'the relay dropped the stalled stream').toBeGreaterThan(0);
  // Bounded: what the relay holds for the stream (beyond the kernel's socket buffers, capped by
  // sysctl) is at most one write past the one that did not drain, and never more than the cap.
  // (RSS of this process is not the measure: the load generator shares it.)
  expect(relay.relay.dashboard!.hub.maxBufferedSeen).toBeLessThanOrEqual(MAX_BUFFERED);
  expect(served).toBeGreaterThan(0);
  // Still serving, dashboard included.
  expect((await fetch(relay.url + '/v1/ok', { headers: { 'x-proxy-token': CLIENT } })).status).toBe(200);
  expect((await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).status).toBe(200);
  sock.destroy();
  console.log(`stalled stream dropped after ${((droppedAt - started) / 1000).toFixed(1)} s; ${served} requests served meanwhile; max buffered ${relay.relay.dashboard!.hub.maxBufferedSeen} bytes`);
}, 30_000);
