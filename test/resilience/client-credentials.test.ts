/** RFC 6749 §4.4 client credentials: Basic or body client auth, scope/audience, expires_in seconds. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const SECRET = 'cc-secret-value-42';

describe('oauth client-credentials', () => {
  let auth: http.Server;
  let authUrl: string;
  const calls: { authorization?: string; form: URLSearchParams }[] = [];
  let api: FakeUpstream;
  let relay: TestRelay;

  beforeAll(async () => {
    auth = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        calls.push({ authorization: req.headers.authorization, form });
        const basicOk = req.headers.authorization === `Basic ${Buffer.from(`my%20client:${SECRET}`).toString('base64')}`;
        const bodyOk = form.get('client_id') === 'my client' && form.get('client_secret') === SECRET;
        if (form.get('grant_type') !== 'client_credentials' || !(basicOk || bodyOk)) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end('{"error":"invalid_client"}');
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: `cc-token-${calls.length}-abcdef`, token_type: 'Bearer', expires_in: 3600 }));
      });
    });
    await new Promise<void>((r) => auth.listen(0, '127.0.0.1', r));
    authUrl = `http://127.0.0.1:${(auth.address() as AddressInfo).port}/oauth/token`;
    api = await startUpstream();
    relay = await startTestRelay(
      `
routes:
  - name: basic
    prefix: /basic
    upstream: ${api.url}
    auth: none
    oauth:
      type: client-credentials
      tokenUrl: ${authUrl}
      clientId: my client
      clientSecret: \${CC_SECRET}
      scope: api.read
      audience: https://api.example
  - name: body
    prefix: /body
    upstream: ${api.url}
    auth: none
    oauth:
      type: client-credentials
      tokenUrl: ${authUrl}
      clientId: my client
      clientSecret: \${CC_SECRET}
      clientAuth: body
`,
      { env: { CC_SECRET: SECRET } },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await api?.close();
    await new Promise<void>((r) => auth.close(() => r()));
  });

  it('Basic client auth with scope and audience; the token is injected as Bearer', async () => {
    const r = await fetch(`${relay.url}/basic/x`);
    expect(r.status).toBe(200);
    const call = calls.at(-1)!;
    expect(call.form.get('scope')).toBe('api.read');
    expect(call.form.get('audience')).toBe('https://api.example');
    expect(call.form.get('client_secret')).toBeNull();
    expect(api.requests.at(-1)!.headers.authorization).toMatch(/^Bearer cc-token-\d+-abcdef$/);
  });

  it('body client auth sends client_id and client_secret in the form', async () => {
    const r = await fetch(`${relay.url}/body/x`);
    expect(r.status).toBe(200);
    const call = calls.at(-1)!;
    expect(call.authorization).toBeUndefined();
    expect(call.form.get('client_id')).toBe('my client');
  });

  it('expires_in (seconds) keeps the token cached: no refetch on the next request', async () => {
    const n = calls.length;
    await fetch(`${relay.url}/basic/y`);
    await fetch(`${relay.url}/body/y`);
    expect(calls.length).toBe(n);
    expect(relay.logs()).not.toContain(SECRET);
    expect(relay.logs()).not.toMatch(/cc-token-\d+-abcdef/);
  });
});
