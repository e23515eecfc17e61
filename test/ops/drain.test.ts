/**
 * Draining in one process (spec §2, reliability R-32): ready turns 503 at once while the listener
 * still accepts for `drainDelay`, then new connections are refused; a stream in flight completes
 * within the grace; a stream longer than the grace is cut, and the cut is logged.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay } from '../helpers/relay.js';
import { bodyReader, events, startSseUpstream, type SseUpstream } from './helpers.js';

const yaml = (upstream: string) => `
routes:
  - name: ai
    prefix: /ai
    upstream: ${upstream}
    auth: none
`;

function connectOutcome(port: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('draining', () => {
  let up: SseUpstream;
  beforeAll(async () => {
    up = await startSseUpstream();
  });
  afterAll(async () => {
    await up.close();
  });

  it('ready → 503 at once, connections still accepted during drainDelay, then refused; the stream completes', async () => {
    const relay = await startTestRelay(yaml(up.url));
    try {
      const port = relay.relay.address.port;
      expect((await fetch(`${relay.url}/ready`)).status).toBe(200);
      const res = await fetch(`${relay.url}/ai/stream?n=12&every=50`);
      const body = bodyReader(res);
      await body.until((t) => events(t).length >= 1);

      const t0 = Date.now();
      const closed = relay.relay.close(3000, { drainDelay: 300 });
      const ready = await fetch(`${relay.url}/ready`, { headers: { connection: 'close' } }).catch(() => undefined);
      // Within the delay a load balancer's probe still gets an answer: 503 draining.
      expect(ready?.status).toBe(503);
      expect(await ready!.json()).toMatchObject({ status: 'draining' });
      expect(await connectOutcome(port)).toBe('connected');

      await new Promise((r) => setTimeout(r, 400));
      expect(await connectOutcome(port)).toBe('ECONNREFUSED');
      expect(body.done()).toBe(false); // the stream is still flowing after the listener closed

      const { text, error } = await body.end(5000);
      expect(error).toBeUndefined();
      expect(events(text)).toHaveLength(12);
      await closed;
      expect(Date.now() - t0).toBeLessThan(2500); // returned when the stream ended, not at the grace
      expect(relay.logs()).not.toContain('exchange cut');
    } finally {
      await relay.close();
    }
  });

  it('a stream longer than the grace is cut at the grace, and the cut is logged', async () => {
    const relay = await startTestRelay(yaml(up.url));
    try {
      const res = await fetch(`${relay.url}/ai/stream?n=100&every=50`);
      const body = bodyReader(res);
      await body.until((t) => events(t).length >= 1);
      const t0 = Date.now();
      await relay.relay.close(600);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(550);
      expect(took).toBeLessThan(2000);
      const { text } = await body.end(3000);
      const n = events(text).length;
      expect(n).toBeGreaterThan(3);
      expect(n).toBeLessThan(100);
      const lines = relay.lines();
      const cut = lines.find((l) => l.msg === 'exchange cut: the shutdown grace passed');
      expect(cut).toMatchObject({ level: 'warn', route: 'ai', method: 'GET', path: '/ai/stream' });
      // The exchange's own access line says why it ended.
      const access = lines.find((l) => l.req_id === cut!.req_id && typeof l.status === 'number');
      expect(access?.outcome).toBe('cut: shutdown grace of 600ms passed');
      await expect.poll(() => up.streaming(), { timeout: 2000 }).toBe(0); // the upstream request was aborted too
    } finally {
      await relay.close();
    }
  });
});
