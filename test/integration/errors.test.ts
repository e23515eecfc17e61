/**
 * Errors the relay produces (spec §5, §10 "Error types"): unreachable, first-byte timeout,
 * disabled routes (before auth), and upstream errors passed through unchanged.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStreamingUpstream, startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface ErrBody {
  error: { type: string; message: string; route: string | null; request_id: string };
}

describe('errors', () => {
  let slow: FakeUpstream;
  let passing: FakeUpstream;
  let garbage: RawUpstream;
  let relay: TestRelay;
  let deadPort: number;
  beforeAll(async () => {
    deadPort = await closedPort();
    slow = await startStreamingUpstream((req, res) => {
      if (req.url === '/idle') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n'); // then silence
        return;
      }
      // /slow: never answers (the relay must give up at firstByteTimeout)
    });
    passing = await startUpstream((req, res) => {
      const status = Number(req.url!.split('/').pop());
      res.writeHead(status, {
        'content-type': 'application/json',
        'retry-after': '7',
        'x-ratelimit-remaining-requests': '0',
        'x-request-id': 'upstream-id',
      });
      res.end(JSON.stringify({ error: { message: `upstream says ${status}`, type: 'invalid_request_error', param: null, code: 'x' } }));
    });
    garbage = await startRawUpstream(() => 'THIS IS NOT HTTP\r\n\r\n');
    relay = await startTestRelay(
      `
clients:
  web: \${PROXY_TOKEN}
  ghost: \${GHOST_TOKEN}
routes:
  - name: dead
    prefix: /dead
    upstream: http://127.0.0.1:${deadPort}/v1
    auth: none
  - name: slow
    prefix: /slow
    upstream: ${slow.url}
    auth: none
    firstByteTimeout: 300ms
    idleTimeout: 300ms
    retries: 0
  - name: disabled
    prefix: /disabled
    upstream: ${passing.url}
    auth: [web]
    headers:
      set:
        X-Key: Key \${FUSION_KEY}
  - name: ghosted
    prefix: /ghosted
    upstream: ${passing.url}
    auth: [ghost]
  - name: pass
    prefix: /pass
    upstream: ${passing.url}
    auth: none
  - name: garbage
    prefix: /garbage
    upstream: ${garbage.url}
    auth: none
    retries: 0
`,
      { env: { PROXY_TOKEN: 'errors-token-1' } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await slow?.close();
    await passing?.close();
    await garbage?.close();
  });

  it('connection refused → 502 upstream_unreachable naming the upstream', async () => {
    const r = await fetch(`${relay.url}/dead/models`, { headers: { 'x-request-id': 'rid-dead' } });
    expect(r.status).toBe(502);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const b = (await r.json()) as ErrBody;
    expect(b.error.type).toBe('upstream_unreachable');
    expect(b.error.message).toContain(`http://127.0.0.1:${deadPort}/v1`);
    expect(b.error.message).toMatch(/refused/);
    expect(b.error).toMatchObject({ route: 'dead', request_id: 'rid-dead' });
  });

  it('firstByteTimeout → 504 upstream_timeout with the spec §5 message shape; the upstream request is aborted', async () => {
    const n = slow.requests.length;
    const r = await fetch(`${relay.url}/slow/x`);
    expect(r.status).toBe(504);
    const b = (await r.json()) as ErrBody;
    expect(b.error.type).toBe('upstream_timeout');
    expect(b.error.message).toMatch(new RegExp(`^upstream ${slow.url.replace(/[.]/g, '\\.')}( via egress \\S+)? sent no response headers within 300ms \\(firstByteTimeout\\)$`));
    expect(slow.requests.length).toBe(n + 1);
    await Promise.race([slow.requests.at(-1)!.closed, new Promise((_, rej) => setTimeout(() => rej(new Error('upstream request not aborted')), 1000))]);
  });

  it('idleTimeout after the response began → the stream is cut (not a clean end) and the log says why', async () => {
    const r = await fetch(`${relay.url}/slow/idle`);
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    let outcome = '';
    try {
      for (;;) if ((await reader.read()).done) break;
      outcome = 'clean end';
    } catch {
      outcome = 'error';
    }
    expect(outcome).toBe('error');
    const line = relay.lines().filter((l) => l.path === '/slow/idle').at(-1)!;
    expect(String(line.outcome)).toMatch(/idleTimeout/);
  });

  it('a route missing a variable → 503 route_disabled naming the variable, before auth', async () => {
    const r = await fetch(`${relay.url}/disabled/x`); // no token at all
    expect(r.status).toBe(503);
    const b = (await r.json()) as ErrBody;
    expect(b.error.type).toBe('route_disabled');
    expect(b.error.route).toBe('disabled');
    expect(b.error.message).toContain('FUSION_KEY');
    expect(passing.requests.length).toBe(0);
  });

  it('a route whose client token variable is missing is disabled, naming that variable', async () => {
    const r = await fetch(`${relay.url}/ghosted/x`, { headers: { 'x-proxy-token': 'anything' } });
    expect(r.status).toBe(503);
    const b = (await r.json()) as ErrBody;
    expect(b.error.message).toContain('GHOST_TOKEN');
    expect(b.error.message).not.toContain('anything');
  });

  it.each([400, 401, 404, 429, 500, 503])('upstream %i passes through unchanged (status, body, headers)', async (status) => {
    const r = await fetch(`${relay.url}/pass/status/${status}`);
    expect(r.status).toBe(status);
    expect(r.headers.get('retry-after')).toBe('7');
    expect(r.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(await r.json()).toEqual({ error: { message: `upstream says ${status}`, type: 'invalid_request_error', param: null, code: 'x' } });
  });

  it('an upstream that answers with something that is not HTTP → 502', async () => {
    const r = await fetch(`${relay.url}/garbage/x`);
    expect(r.status).toBe(502);
    const b = (await r.json()) as ErrBody;
    expect(['upstream_error', 'upstream_unreachable']).toContain(b.error.type);
    expect(b.error.message).toContain(garbage.url);
  });
});
