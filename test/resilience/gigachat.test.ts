/**
 * A fake GigaChat (token endpoint + API, both HTTPS signed by a test CA) behind the relay's
 * `oauth: {type: gigachat}` route: single-flight token fetch, refresh on expiry, one retry on a
 * revoked token, a clear 502 when the token endpoint is down, and the official SDK end to end.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GigaChat } from 'gigachat';
import { makeCa, makeLeaf, tempDir, writeFiles } from '../tls/pki.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const AUTH_KEY = 'Z2lnYS1jbGllbnQ6Z2lnYS1zZWNyZXQtdmFsdWU=';
const RELAY_TOKEN = 'relay-token-for-gigachat-tests';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface FakeGigaChat {
  tokenUrl: string;
  apiUrl: string;
  tokenCalls: { auth: string | undefined; rquid: string | undefined; body: string }[];
  apiCalls: { auth: string | undefined; url: string }[];
  ttlMs: number;
  revoke(token: string): void;
  revokeAll(): void;
  tokenDown: boolean;
  close(): Promise<void>;
}

async function startFakeGigaChat(tls: { key: string; cert: string }): Promise<FakeGigaChat> {
  let n = 0;
  const valid = new Map<string, number>();
  const fake: FakeGigaChat = {
    tokenUrl: '',
    apiUrl: '',
    tokenCalls: [],
    apiCalls: [],
    ttlMs: 30 * 60_000,
    tokenDown: false,
    revoke: (t) => valid.delete(t),
    revokeAll: () => valid.clear(),
    close: async () => {},
  };
  const tokenSrv = https.createServer(tls, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      fake.tokenCalls.push({ auth: req.headers.authorization, rquid: req.headers.rquid as string | undefined, body });
      if (fake.tokenDown) {
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end('{"message":"maintenance"}');
      }
      const ok = req.headers.authorization === `Basic ${AUTH_KEY}` && UUID_V4.test(String(req.headers.rquid)) && body === 'scope=GIGACHAT_API_PERS';
      if (!ok) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end('{"code":4,"message":"Can\'t decode \'Authorization\' header"}');
      }
      // Answer a little later so concurrent requests really overlap the fetch.
      setTimeout(() => {
        const token = `tok-${++n}-${'x'.repeat(40)}`;
        const expiresAt = Date.now() + fake.ttlMs;
        valid.set(token, expiresAt);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: token, expires_at: expiresAt }));
      }, 50);
    });
  });
  const apiSrv = https.createServer(tls, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      fake.apiCalls.push({ auth: req.headers.authorization, url: req.url! });
      const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
      const exp = valid.get(token);
      if (!exp || exp < Date.now()) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end('{"status":401,"message":"Token has expired"}');
      }
      const stream = body.includes('"stream":true');
      if (stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const piece of ['Привет', ', ', 'мир']) {
          res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: piece, role: 'assistant' }, index: 0 }], created: 1, model: 'GigaChat', object: 'chat.completion' })}\n\n`);
        }
        return res.end('data: [DONE]\n\n');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'Привет!' }, index: 0, finish_reason: 'stop' }], created: 1, model: 'GigaChat', object: 'chat.completion', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    });
  });
  await Promise.all([tokenSrv, apiSrv].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  fake.tokenUrl = `https://127.0.0.1:${(tokenSrv.address() as AddressInfo).port}/api/v2/oauth`;
  fake.apiUrl = `https://127.0.0.1:${(apiSrv.address() as AddressInfo).port}/api/v1`;
  fake.close = async () => {
    for (const s of [tokenSrv, apiSrv]) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  };
  return fake;
}

describe('GigaChat OAuth through the relay', () => {
  let fake: FakeGigaChat;
  let relay: TestRelay;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const ca = await makeCa('test Russian Trusted Root CA');
    const leaf = await makeLeaf(ca, { dns: ['localhost'], ips: ['127.0.0.1'] });
    const t = await tempDir();
    cleanup = t.cleanup;
    await writeFiles(t.dir, { 'ca.pem': ca.certPem });
    fake = await startFakeGigaChat({ key: leaf.keyPem, cert: leaf.certPem });
    relay = await startTestRelay(
      `
clients:
  web: \${PROXY_TOKEN}
routes:
  - name: gigachat
    prefix: /gigachat
    upstream: ${fake.apiUrl}
    auth: [web]
    tls:
      ca: ca.pem
    oauth:
      type: gigachat
      tokenUrl: ${fake.tokenUrl}
      authorizationKey: \${GIGACHAT_AUTH_KEY}
      scope: GIGACHAT_API_PERS
`,
      { env: { PROXY_TOKEN: RELAY_TOKEN, GIGACHAT_AUTH_KEY: AUTH_KEY }, dir: t.dir, logLevel: 'debug' },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await fake?.close();
    await cleanup?.();
  });

  const chat = (body: object = { model: 'GigaChat', messages: [{ role: 'user', content: 'hi' }] }) =>
    fetch(`${relay.url}/gigachat/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-proxy-token': RELAY_TOKEN },
      body: JSON.stringify(body),
    });

  it('100 concurrent requests on a cold start cause one token fetch', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, () => chat()));
    expect(answers.map((a) => a.status)).toEqual(new Array(100).fill(200));
    expect(fake.tokenCalls).toHaveLength(1);
    expect(fake.tokenCalls[0]!.rquid).toMatch(UUID_V4);
    // The relay token never reached GigaChat; the OAuth token did.
    expect(fake.apiCalls.every((c) => c.auth?.startsWith('Bearer tok-1-'))).toBe(true);
  });

  it('a revoked token (401) is replaced once and the request succeeds', async () => {
    const before = fake.tokenCalls.length;
    const current = fake.apiCalls.at(-1)!.auth!.slice('Bearer '.length);
    fake.revoke(current);
    const r = await chat();
    expect(r.status).toBe(200);
    expect(fake.tokenCalls.length).toBe(before + 1);
    const last2 = fake.apiCalls.slice(-2).map((c) => c.auth);
    expect(last2[0]).toBe(`Bearer ${current}`);
    expect(last2[1]).not.toBe(`Bearer ${current}`);
  });

  it('refreshes before expiry (refreshBefore) and every RqUID is fresh', async () => {
    fake.ttlMs = 30_000; // shorter than refreshBefore (60 s): the next lease refreshes
    const cur = fake.apiCalls.at(-1)!.auth!;
    fake.revoke(cur.slice(7));
    await chat(); // 401 → new token with a 30 s life
    const before = fake.tokenCalls.length;
    await chat(); // within refreshBefore: served with the old token, refreshed in the background
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.tokenCalls.length).toBe(before + 1);
    const ids = fake.tokenCalls.map((c) => c.rquid);
    expect(new Set(ids).size).toBe(ids.length);
    fake.ttlMs = 30 * 60_000;
  });

  it('the official gigachat SDK works through the relay, plain and streaming', async () => {
    const client = new GigaChat({ baseUrl: `${relay.url}/gigachat`, accessToken: RELAY_TOKEN, timeout: 10 });
    const resp = await client.chat({ messages: [{ role: 'user', content: 'Привет' }] });
    expect(resp.choices[0]!.message.content).toBe('Привет!');
    let text = '';
    for await (const chunk of client.stream({ messages: [{ role: 'user', content: 'Привет' }] })) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('Привет, мир');
  });

  it('a down token endpoint gives 502 upstream_error naming the token endpoint; no secret leaks', async () => {
    await new Promise((r) => setTimeout(r, 200)); // let background refreshes from earlier tests settle
    fake.tokenDown = true;
    fake.revokeAll();
    const r = await chat();
    expect(r.status).toBe(502);
    const body = (await r.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('upstream_error');
    expect(body.error.message).toMatch(/token endpoint https:\/\/127\.0\.0\.1:\d+\/api\/v2\/oauth failed: it answered 503/);
    fake.tokenDown = false;
    const logs = relay.logs();
    expect(logs).not.toContain(AUTH_KEY);
    expect(logs).not.toContain(RELAY_TOKEN);
    expect(logs).not.toMatch(/tok-\d+-x{40}/);
  });
});
