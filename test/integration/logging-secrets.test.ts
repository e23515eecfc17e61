/**
 * Logging (spec §4 step 12, §10 "Secrets", reliability A.4 ): one access line per
 * exchange with the documented fields; a whole debug-level run whose captured output, and every
 * response the client got, is searched for every configured secret — none may appear.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const SECRETS = {
  PROXY_TOKEN: 'tok-web-SECRET-1111',
  MOBILE_TOKEN: 'tok-mobile-SECRET-5555',
  OPENAI_API_KEY: 'sk-openai-SECRET-2222',
  GEMINI_API_KEY: 'gem-SECRET-3333',
  FUSIONBRAIN_KEY: 'fb-key-SECRET-6666',
  FUSIONBRAIN_SECRET: 'fb-secret-SECRET-7777',
};
/** Sent by the client in `?key=` (Gemini style); not configured, still never logged. */
const QUERY_KEY = 'client-query-SECRET-4444';

describe('access log and secrets at debug level', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  const clientSaw: string[] = [];
  let deadPort = 0;

  beforeAll(async () => {
    up = await startUpstream((req, res, rec) => {
      if (req.url!.includes('echo-header')) {
        res.writeHead(400, { 'content-type': 'application/json', 'x-debug-key': String(req.headers['x-goog-api-key']) });
        return void res.end('{"error":{"message":"bad key"}}');
      }
      if (req.url!.includes('bad-key')) {
        // Gemini echoes a bad API key in its error body.
        res.writeHead(400, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ error: { code: 400, message: `API key not valid: ${String(req.headers['x-goog-api-key'])}`, status: 'INVALID_ARGUMENT' } }));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, len: rec.body.length }));
    });
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    deadPort = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    relay = await startTestRelay(
      `
log:
  level: debug
  bodies: true
clients:
  web: \${PROXY_TOKEN}
  mobile: \${MOBILE_TOKEN}
routes:
  - name: openai
    prefix: /openai
    upstream: ${up.url}/v1
    auth: [web, mobile]
    headers:
      set:
        Authorization: Bearer \${OPENAI_API_KEY}
  - name: gemini
    prefix: /gemini
    upstream: ${up.url}
    auth: [web]
    headers:
      set:
        x-goog-api-key: \${GEMINI_API_KEY}
  - name: fusionbrain
    prefix: /fusionbrain
    upstream: http://127.0.0.1:${deadPort}
    auth: [web]
    retries: 0
    headers:
      set:
        X-Key: Key \${FUSIONBRAIN_KEY}
        X-Secret: Secret \${FUSIONBRAIN_SECRET}
`,
      { env: { ...SECRETS }, logLevel: 'debug' },
    );

    const call = async (path: string, init: RequestInit = {}) => {
      const r = await fetch(`${relay.url}${path}`, init);
      clientSaw.push(JSON.stringify([...r.headers]), await r.text());
      return r;
    };
    await call('/openai/chat/completions', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.PROXY_TOKEN}`, 'content-type': 'application/json' }, body: '{"model":"m","messages":[]}' });
    await call('/openai/models', { headers: { 'x-proxy-token': SECRETS.MOBILE_TOKEN } });
    await call('/openai/models', { headers: { 'x-proxy-token': 'wrong-token' } });
    await call(`/gemini/v1beta/models/gemini-pro:generateContent?key=${QUERY_KEY}&alt=sse`, { method: 'POST', headers: { 'x-proxy-token': SECRETS.PROXY_TOKEN }, body: '{}' });
    await call('/gemini/v1beta/bad-key', { headers: { 'x-proxy-token': SECRETS.PROXY_TOKEN } });
    await call('/fusionbrain/key/api/v1/pipelines', { headers: { 'x-proxy-token': SECRETS.PROXY_TOKEN } });
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('writes one access line per exchange with id, method, path, route, status, duration, bytes, client', async () => {
    const access = relay.lines().filter((l) => typeof l.req_id === 'string' && typeof l.status === 'number');
    expect(access.length).toBe(6);
    const first = access[0]!;
    expect(first).toMatchObject({ method: 'POST', path: '/openai/chat/completions', route: 'openai', status: 200, client: 'web', ip: '127.0.0.1' });
    expect(first.dur_ms).toEqual(expect.any(Number));
    expect(first.upstream_ms).toEqual(expect.any(Number));
    expect(first.bytes_in).toBe('{"model":"m","messages":[]}'.length);
    expect(first.bytes_out).toBeGreaterThan(0);
    expect(access[1]).toMatchObject({ route: 'openai', status: 200, client: 'mobile' });
    expect(access[2]).toMatchObject({ route: 'openai', status: 401 });
    expect(access[5]).toMatchObject({ route: 'fusionbrain', status: 502 });
    expect(new Set(access.map((l) => l.req_id)).size).toBe(6);
  });

  it('the query key is redacted in the access line', () => {
    const gem = relay.lines().find((l) => typeof l.path === 'string' && (l.path as string).includes('generateContent'));
    expect(gem).toBeDefined();
    expect(gem!.path).toBe('/gemini/v1beta/models/gemini-pro:generateContent?key=[redacted]&alt=sse');
  });

  it('the upstream really received the configured secrets (the test would be vacuous otherwise)', () => {
    const got = JSON.stringify(up.requests.map((r) => r.headers));
    expect(got).toContain(SECRETS.OPENAI_API_KEY);
    expect(got).toContain(SECRETS.GEMINI_API_KEY);
    expect(relay.logs().length).toBeGreaterThan(0);
  });

  it.each([...Object.entries(SECRETS), ['QUERY_KEY', QUERY_KEY]])('no log line contains %s', (_name, secret) => {
    expect(relay.logs()).not.toContain(secret);
  });

  it.each(Object.entries(SECRETS))('no response the client got contains %s (error bodies, echoed headers)', (_name, secret) => {
    expect(clientSaw.join('\n')).not.toContain(secret);
  });

  it('the echoed key in an upstream error body is replaced by [redacted]', () => {
    expect(clientSaw.join('\n')).toContain('API key not valid: [redacted]');
  });

  // KNOWN BUG (reported): only error *bodies* are scrubbed (src/upstream/scrub.ts); a response
  // header echoing the injected key reaches the client (reliability A.4 R-28). Fix in
  // src/upstream/forward.ts onResponseStart, right after `out` is built: for status >= 400 and
  // x.table.redactor.size, replace every string (or string[]) value v of `out` for which
  // redactor.has(v) with redactor.scrub(v). Flip `it.fails` to `it` when that lands.
  it('an upstream error header echoing the injected key is scrubbed too', async () => {
    const r = await fetch(`${relay.url}/gemini/v1beta/echo-header`, { headers: { 'x-proxy-token': SECRETS.PROXY_TOKEN } });
    expect(r.status).toBe(400);
    await r.text();
    expect(r.headers.get('x-debug-key')).not.toContain(SECRETS.GEMINI_API_KEY);
  });
});

describe('log.bodies at debug level', () => {
  it('logs truncated request and response bodies, with secrets redacted', async () => {
    const { startUpstream } = await import('../helpers/upstream.js');
    const { startTestRelay } = await import('../helpers/relay.js');
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ answer: 'x'.repeat(5000), echoed: 'sk-body-secret-123456' }));
    });
    const relay = await startTestRelay(
      `
log:
  bodies: true
routes:
  - name: b
    prefix: /b
    upstream: ${up.url}
    auth: none
    keys:
      values: [\${K}]
`,
      { env: { K: 'sk-body-secret-123456' }, logLevel: 'debug' },
    );
    try {
      const r = await fetch(`${relay.url}/b/x`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"hello body"}' });
      await r.text();
      await new Promise((res) => setTimeout(res, 50));
      const line = relay.lines().find((l) => l.msg === 'bodies');
      expect(line).toBeDefined();
      expect(line!.req_body).toBe('{"prompt":"hello body"}');
      expect(String(line!.res_body)).toMatch(/… \(\d+ bytes\)$/);
      expect(String(line!.res_body).length).toBeLessThan(2200);
      expect(relay.logs()).not.toContain('sk-body-secret-123456');
    } finally {
      await relay.close();
      await up.close();
    }
  });
});
