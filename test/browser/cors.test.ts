/**
 * CORS, decided by a real browser. Pages served from one local origin call the relay on another
 * port through `fetch`, and headless Chromium enforces the rules: what it lets a script read,
 * which preflights it sends, what it blocks. The fake upstream records what reached it.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkChromium, launchBrowser, startSite, type Site, type TestBrowser } from '../helpers/browser.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startStreamingUpstream, type FakeUpstream } from '../helpers/upstream.js';

const tool = checkChromium();
const TOKEN = 'browser-token-7c1e9f';

it.runIf(tool.mustFail)('chromium is installed (required under CI=true)', () => {
  expect.fail(tool.reason);
});

describe.skipIf(!tool.available)('CORS in headless Chromium', () => {
  let browser: TestBrowser;
  let site: Site; // the allowed origin
  let foreign: Site; // a page the route does not allow
  let up: FakeUpstream;
  let relay: TestRelay;
  /** SSE pacing: the upstream holds the rest of the stream until the page has seen event 1. */
  let pageSawFirst: (() => void) | undefined;

  beforeAll(async () => {
    [site, foreign] = await Promise.all([startSite('app'), startSite('foreign')]);
    up = await startStreamingUpstream((req, res) => {
      if (req.url?.startsWith('/v1/stream')) return void sse(res);
      req.resume();
      req.on('end', () => {
        // An upstream that sends its own CORS headers: the relay must replace them.
        res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-test' }], path: req.url }));
      });
    });
    relay = await startTestRelay(
      `
clients:
  web: \${TOKEN}
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}/v1
    auth: [web]
    cors:
      origins: ["${site.origin}", "https://*.example.com"]
      maxAge: 10m
    rateLimit:
      requests: 100
      per: 1m
  - name: open
    prefix: /open
    upstream: ${up.url}/v1
    auth: none
    cors:
      origins: ["${site.origin}"]
`,
      { env: { TOKEN } },
    );
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await relay?.close();
    await up?.close();
    await site?.close();
    await foreign?.close();
  });

  /** Writes event 1, waits (bounded) until the page reports it, then writes events 2 and 3. */
  function sse(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: {"n":1}\n\n');
    let released = false;
    const seen = new Promise<boolean>((resolve) => {
      pageSawFirst = () => resolve(true);
      setTimeout(() => resolve(false), 5000);
    });
    void seen.then((sawFirst) => {
      released = sawFirst;
      res.write(`data: {"n":2,"pageSawFirstBeforeUpstreamWroteThis":${released}}\n\n`);
      setTimeout(() => res.end('data: [DONE]\n\n'), 50);
    });
  }

  const upstreamMethods = () => up.requests.map((r) => r.method);
  const accessLines = () => relay.lines().filter((l) => typeof l.status === 'number' && typeof l.method === 'string');

  it('an allowed origin gets JSON; the token travels in X-Proxy-Token, after a preflight only the relay sees', async () => {
    const page = await browser.open(site.origin);
    const before = up.requests.length;
    const got = await page.evaluate(
      async ([relayUrl, token]) => {
        const r = await fetch(`${relayUrl}/api/models`, { headers: { 'X-Proxy-Token': token!, 'X-Custom-Trace': 'abc' } });
        return {
          status: r.status,
          body: await r.json(),
          requestId: r.headers.get('x-request-id'),
          remaining: r.headers.get('ratelimit-remaining'),
          serverTiming: r.headers.get('server-timing'),
        };
      },
      [relay.url, TOKEN],
    );
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ object: 'list', path: '/v1/models' });
    // Exposed to scripts by Access-Control-Expose-Headers:
    expect(got.requestId).toBeTruthy();
    expect(got.remaining).toBe('99');
    expect(got.serverTiming).toMatch(/relay;dur=/);

    // The browser preflighted (custom headers) and the relay answered it: the upstream saw one GET.
    const preflight = accessLines().find((l) => l.method === 'OPTIONS' && l.path === '/api/models');
    expect(preflight?.status).toBe(204);
    const seen = up.requests.slice(before);
    expect(seen.map((r) => r.method)).toEqual(['GET']);
    expect(seen[0]!.headers['x-proxy-token']).toBeUndefined();
    expect(seen[0]!.headers['x-custom-trace']).toBe('abc');
    await page.close();
  });

  it('reads an SSE stream chunk by chunk with fetch + reader', async () => {
    const page = await browser.open(site.origin);
    await page.exposeFunction('reportFirstChunk', () => pageSawFirst?.());
    const got = await page.evaluate(
      async ([relayUrl, token]) => {
        const r = await fetch(`${relayUrl}/api/stream`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
          body: JSON.stringify({ stream: true }),
        });
        const reader = r.body!.getReader();
        const dec = new TextDecoder();
        const chunks: { at: number; text: string }[] = [];
        let all = '';
        let reported = false;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const text = dec.decode(value, { stream: true });
          chunks.push({ at: performance.now(), text });
          all += text;
          if (!reported && all.includes('"n":1')) {
            reported = true;
            await (globalThis as unknown as { reportFirstChunk(): Promise<void> }).reportFirstChunk();
          }
        }
        return { status: r.status, type: r.headers.get('content-type'), chunks: chunks.length, all };
      },
      [relay.url, TOKEN],
    );
    expect(got.status).toBe(200);
    expect(got.type).toContain('text/event-stream');
    expect(got.all).toContain('data: {"n":1}');
    expect(got.all).toContain('data: [DONE]');
    // The upstream only wrote event 2 after the page had read event 1: nothing was buffered.
    expect(got.all).toContain('"pageSawFirstBeforeUpstreamWroteThis":true');
    expect(got.chunks).toBeGreaterThanOrEqual(2);
    // The Authorization header carried the relay token: it must not reach the upstream.
    const streamReq = up.requests.find((r) => r.url === '/v1/stream');
    expect(streamReq?.headers.authorization).toBeUndefined();
    await page.close();
  });

  it('a disallowed origin is blocked by the browser and never reaches the upstream', async () => {
    const page = await browser.open(foreign.origin);
    const before = up.requests.length;
    const outcome = await page.evaluate(async (relayUrl) => {
      const attempt = async (url: string, init?: RequestInit) => {
        try {
          const r = await fetch(url, init);
          return `status ${r.status}`;
        } catch (e) {
          return `rejected: ${(e as Error).name}`;
        }
      };
      return {
        // Simple GET: no preflight; the relay refuses it with 403 and no CORS headers.
        simple: await attempt(`${relayUrl}/open/models`),
        // Token header → preflight; the relay refuses the preflight.
        preflighted: await attempt(`${relayUrl}/api/models`, { headers: { 'X-Proxy-Token': 'browser-token-7c1e9f' } }),
        // POST with a body through the text/plain loophole (no preflight): still refused.
        post: await attempt(`${relayUrl}/open/chat`, { method: 'POST', body: '{"spend":"quota"}' }),
      };
    }, relay.url);
    expect(outcome).toEqual({ simple: 'rejected: TypeError', preflighted: 'rejected: TypeError', post: 'rejected: TypeError' });
    expect(up.requests.length).toBe(before);
    const refused = accessLines().filter((l) => l.status === 403);
    expect(refused.map((l) => `${l.method} ${l.path}`)).toEqual(
      expect.arrayContaining(['GET /open/models', 'OPTIONS /api/models', 'POST /open/chat']),
    );
    await page.close();
  });

  it('the same open route works from the allowed origin without a preflight', async () => {
    const page = await browser.open(site.origin);
    const before = accessLines().length;
    const got = await page.evaluate(async (relayUrl) => {
      const r = await fetch(`${relayUrl}/open/models`);
      return { status: r.status, body: await r.json() };
    }, relay.url);
    expect(got).toMatchObject({ status: 200, body: { path: '/v1/models' } });
    const lines = accessLines().slice(before);
    expect(lines.map((l) => l.method)).toEqual(['GET']);
    expect(upstreamMethods()).not.toContain('OPTIONS');
    await page.close();
  });
});
