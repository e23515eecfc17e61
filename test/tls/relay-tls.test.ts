/**
 * TLS through the whole relay: the self-signed HTTPS listener, HTTP/2 and HTTP/1.1 on it, SSE
 * fan-out on one h2 connection, certificate reload, and upstream TLS with a private CA.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { generateCertificate } from '../../src/tls/generate.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { gate, sseEvent, sseHead, waitFor } from '../helpers/sse.js';
import { startStreamingUpstream, startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { makeCa, makeLeaf, tempDir } from './pki.js';
import { probeTls } from './probe.js';

const WAIT_MS = 5000;

function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function connectH2(port: number, ca: string): Promise<http2.ClientHttp2Session> {
  return within(
    new Promise((resolve, reject) => {
      const session = http2.connect(`https://localhost:${port}`, { ca, host: '127.0.0.1', servername: 'localhost' } as http2.SecureClientSessionOptions);
      session.once('connect', () => resolve(session));
      session.once('error', reject);
    }),
    'h2 connect',
  );
}

function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string) {
  return within(
    new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = session.request(headers);
      let text = '';
      let head: http2.IncomingHttpHeaders = {};
      req.setEncoding('utf8');
      req.on('response', (h) => (head = h));
      req.on('data', (d: string) => (text += d));
      req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: text }));
      req.on('error', reject);
      req.end(body);
    }),
    `h2 ${String(headers[':path'])}`,
  );
}

function h1Get(url: string, ca: string) {
  return within(
    new Promise<{ status: number; body: string; httpVersion: string }>((resolve, reject) => {
      const u = new URL(url);
      const req = https.request({ host: '127.0.0.1', port: u.port, path: u.pathname + u.search, servername: 'localhost', ca, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, httpVersion: res.httpVersion }));
      });
      req.on('error', reject);
      req.end();
    }),
    `GET ${url}`,
  );
}

const sessions: http2.ClientHttp2Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.destroy();
});

describe('HTTPS listener with selfSigned: true', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let up: FakeUpstream;
  let relay: TestRelay;
  let certPem: string;
  let port: number;
  const holds: Array<{ open: () => void }> = [];
  let yaml: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    up = await startStreamingUpstream((req, res) => {
      if (req.url?.includes('/stream')) {
        sseHead(res as ServerResponse);
        res.write(sseEvent(`first ${req.url}`));
        const g = gate();
        holds.push(g);
        void g.wait.then(() => res.end(sseEvent('[DONE]')));
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url, method: req.method, body: Buffer.concat(chunks).toString('utf8'), pseudo: Object.keys(req.headers).filter((h) => h.startsWith(':')) }));
      });
    });
    yaml = `
server:
  tls:
    cert: certs/cert.pem
    key: certs/key.pem
    selfSigned: true
    hosts: [localhost, 127.0.0.1]
routes:
  - name: api
    prefix: /api
    upstream: ${up.url}
    auth: none
`;
    relay = await startTestRelay(yaml, { dir });
    certPem = await readFile(join(dir, 'certs/cert.pem'), 'utf8');
    port = portOf(relay.url);
  });
  afterAll(async () => {
    for (const h of holds.splice(0)) h.open();
    await relay?.close();
    await up?.close();
    await cleanup?.();
  });

  it('generates the pair, serves https and logs the fingerprint', async () => {
    expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const probe = await probeTls({ port, servername: 'localhost', ca: certPem });
    expect(probe.ok).toBe(true);
    const fp = (probe as { fingerprint256: string }).fingerprint256;
    expect(relay.logs()).toContain(fp);
    expect(await probeTls({ port, servername: 'localhost' })).toMatchObject({ ok: false, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });

  it('relays over h2 (with a request body) and over HTTP/1.1', async () => {
    const session = await connectH2(port, certPem);
    sessions.push(session);
    const res = await h2Request(session, { ':method': 'POST', ':path': '/api/v1/chat?x=1', 'content-type': 'application/json' }, '{"q":1}');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ url: '/v1/chat?x=1', method: 'POST', body: '{"q":1}', pseudo: [] });
    expect(res.headers['x-request-id']).toBeTruthy();
    // The head goes to the h2 compat layer as a flat [name, value, …] list (forward.ts writeHead).
    expect(res.headers['server-timing']).toMatch(/^relay;dur=[\d.]+, upstream;dur=[\d.]+$/);
    expect(res.headers.vary).toBe('Origin');
    for (const h of ['connection', 'transfer-encoding', 'keep-alive']) expect(res.headers[h]).toBeUndefined();

    const h1 = await h1Get(`${relay.url}/api/v1/models`, certPem);
    expect(h1.httpVersion).toBe('1.1');
    expect(JSON.parse(h1.body)).toMatchObject({ url: '/v1/models', method: 'GET' });
  });

  it('carries ten SSE streams at once on one h2 connection', async () => {
    holds.length = 0;
    const session = await connectH2(port, certPem);
    sessions.push(session);
    const N = 10;
    const heads: http2.IncomingHttpHeaders[] = [];
    const streams = Array.from({ length: N }, (_, i) => {
      const req = session.request({ ':path': `/api/stream/${i}`, accept: 'text/event-stream' });
      req.on('response', (h) => heads.push(h));
      req.setEncoding('utf8');
      let text = '';
      req.on('data', (d: string) => (text += d));
      const done = new Promise<string>((resolve, reject) => {
        req.on('end', () => resolve(text));
        req.on('error', reject);
      });
      req.end();
      return { text: () => text, done };
    });
    await waitFor(() => streams.every((s, i) => s.text().includes(`first /stream/${i}`)), WAIT_MS, 'first event on every stream');
    expect(holds).toHaveLength(N);
    for (const h of holds.splice(0)) h.open();
    const bodies = await within(Promise.all(streams.map((s) => s.done)), 'stream ends');
    expect(heads).toHaveLength(N);
    expect(heads.every((h) => h['cache-control'] === 'no-cache, no-transform' && h['x-accel-buffering'] === 'no')).toBe(true);
    bodies.forEach((b, i) => expect(b).toBe(`data: first /stream/${i}\n\ndata: [DONE]\n\n`));
  });

  it('an h2 client that cancels a stream aborts the upstream request', async () => {
    const session = await connectH2(port, certPem);
    sessions.push(session);
    const before = up.requests.length;
    const req = session.request({ ':path': '/api/stream/cancel', accept: 'text/event-stream' });
    req.end();
    await within(new Promise((resolve) => req.once('data', resolve)), 'first event');
    req.close(http2.constants.NGHTTP2_CANCEL);
    await within(up.requests[before]!.closed, 'upstream request closed');
  });

  it('reload serves a new certificate to new connections; a bad pair keeps the old one', async () => {
    const open = await connectH2(port, certPem);
    sessions.push(open);
    const next = await generateCertificate({ hosts: ['localhost'], days: 5, keyType: 'ec' });
    await writeFile(join(dir, 'certs/cert.pem'), next.certPem);
    await writeFile(join(dir, 'certs/key.pem'), next.keyPem);
    await relay.relay.reload(parseConfigText(yaml, 'test.yaml', { env: {}, dir }));

    expect(await probeTls({ port, servername: 'localhost', ca: next.certPem })).toMatchObject({ ok: true, fingerprint256: next.fingerprint256 });
    expect((await h2Request(open, { ':path': '/api/still-open' })).status).toBe(200);

    const stray = await generateCertificate({ hosts: ['localhost'], days: 5, keyType: 'ec' });
    await writeFile(join(dir, 'certs/key.pem'), stray.keyPem);
    await relay.relay.reload(parseConfigText(yaml, 'test.yaml', { env: {}, dir }));
    expect(relay.logs()).toContain('does not match');
    expect(await probeTls({ port, servername: 'localhost', ca: next.certPem })).toMatchObject({ ok: true, fingerprint256: next.fingerprint256 });
    await writeFile(join(dir, 'certs/key.pem'), next.keyPem);
  });
});

describe('upstream signed by a private CA', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let up: FakeUpstream;
  let relay: TestRelay;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    const ca = await makeCa('Test Trusted Root CA');
    const leaf = await makeLeaf(ca, { dns: ['localhost'], ips: ['127.0.0.1'] });
    await writeFile(join(dir, 'test-root.pem'), ca.certPem);
    up = await startUpstream(undefined, { tls: { key: leaf.keyPem, cert: leaf.certPem } });
    relay = await startTestRelay(
      `
routes:
  - name: without-ca
    prefix: /plain
    upstream: ${up.url}
    auth: none
    retries: 0
  - name: with-ca
    prefix: /trusted
    upstream: ${up.url}
    auth: none
    tls:
      ca: test-root.pem
`,
      { dir },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
    await cleanup?.();
  });

  it('fails without tls.ca: 502 upstream_unreachable that names the fix', async () => {
    const res = await fetch(`${relay.url}/plain/v1/models`);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { type: string; message: string; route: string } };
    expect(body.error.type).toBe('upstream_unreachable');
    expect(body.error.route).toBe('without-ca');
    expect(body.error.message).toContain("route's tls.ca");
    expect(up.requests).toHaveLength(0);
  });

  it('succeeds with tls.ca', async () => {
    const res = await fetch(`${relay.url}/trusted/v1/models`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, url: '/v1/models' });
    expect(up.requests.at(-1)?.url).toBe('/v1/models');
  });
});
