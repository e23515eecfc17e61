/**
 * Hop-by-hop headers never cross the relay, in either direction (spec §4 steps 7 and 9,
 * RFC 9110 §7.6.1, reliability A.4 R-01). One case each; raw sockets on both sides so neither
 * undici nor node:http hides what was sent.
 */
import net from 'node:net';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startRawUpstream, type RawUpstream } from '../helpers/raw-upstream.js';
import { startTestRelay, type TestRelay, openApiRoute } from '../helpers/relay.js';
import { rawRequest, tryParse } from '../helpers/raw-request.js';

describe('hop-by-hop: client → upstream', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream();
    relay = await startTestRelay(`
${openApiRoute(up.url)}`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  const send = async (headers: [string, string][], extra: { method?: string; body?: string } = {}) => {
    const n = up.requests.length;
    const r = await rawRequest(relay.url, '/api/x', { headers, ...extra });
    expect(r.status).toBe(200);
    expect(up.requests.length).toBe(n + 1);
    return up.requests.at(-1)!;
  };

  it('Connection and every header it names', async () => {
    const rec = await send([['Connection', 'close, X-Hop-A, x-hop-b'], ['X-Hop-A', '1'], ['X-Hop-B', '2'], ['X-Kept', '3']]);
    expect(rec.headers['x-hop-a']).toBeUndefined();
    expect(rec.headers['x-hop-b']).toBeUndefined();
    expect(rec.headers['x-kept']).toBe('3');
    expect(rec.headers.connection ?? 'keep-alive').not.toMatch(/hop|close/i);
  });

  it('Keep-Alive', async () => {
    const rec = await send([['Keep-Alive', 'timeout=99, max=7']]);
    expect(rec.headers['keep-alive']).toBeUndefined();
  });

  it('Proxy-Authorization', async () => {
    const rec = await send([['Proxy-Authorization', 'Basic dXNlcjpzZWNyZXRwYXNz']]);
    expect(rec.headers['proxy-authorization']).toBeUndefined();
    expect(JSON.stringify(rec.rawHeaders)).not.toContain('dXNlcjpzZWNyZXRwYXNz');
  });

  it('Proxy-Connection', async () => {
    const rec = await send([['Proxy-Connection', 'keep-alive']]);
    expect(rec.headers['proxy-connection']).toBeUndefined();
  });

  it('TE', async () => {
    const rec = await send([['TE', 'gzip, trailers']]);
    expect(rec.headers.te).toBeUndefined();
  });

  it('Trailer', async () => {
    const rec = await send([['Trailer', 'X-Checksum']]);
    expect(rec.headers.trailer).toBeUndefined();
  });

  it('Transfer-Encoding: chunked — the body still arrives whole', async () => {
    const chunks = ['hello ', 'chunked ', 'world'];
    const body = chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n';
    const rec = await send([['Transfer-Encoding', 'chunked'], ['Content-Type', 'text/plain']], { method: 'POST', body });
    expect(rec.body.toString()).toBe('hello chunked world');
    expect(rec.headers['transfer-encoding'] ?? 'chunked').toBe('chunked'); // re-framed by the relay, not copied
  });

  it('Upgrade (a websocket handshake is relayed as plain HTTP, upgrade stripped)', async () => {
    const rec = await send([['Connection', 'Upgrade'], ['Upgrade', 'websocket'], ['Sec-WebSocket-Version', '13']]);
    expect(rec.headers.upgrade).toBeUndefined();
    expect(rec.headers.connection ?? '').not.toMatch(/upgrade/i);
  });

  it('HTTP2-Settings', async () => {
    const rec = await send([['HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA']]);
    expect(rec.headers['http2-settings']).toBeUndefined();
  });

  it('Host is the upstream authority, whatever the client sent', async () => {
    const rec = await send([['Host', 'evil.example:8080']]);
    expect(rec.headers.host).toBe(`127.0.0.1:${up.port}`);
  });

  it('Expect: 100-continue, curl style (headers first, body after 100 Continue) — the body arrives', async () => {
    const body = Buffer.alloc(200_000, 'a');
    const u = new URL(relay.url);
    const n = up.requests.length;
    const res = await new Promise<ReturnType<typeof tryParse>>((resolve, reject) => {
      const sock = net.connect(Number(u.port), u.hostname);
      let got = Buffer.alloc(0);
      let sentBody = false;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`no answer; got ${got.toString('latin1').slice(0, 200)}`));
      }, 5000);
      sock.on('connect', () =>
        sock.write(`POST /api/upload HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`),
      );
      sock.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (!sentBody && got.toString('latin1').startsWith('HTTP/1.1 100')) {
          sentBody = true;
          sock.write(body);
        }
        const p = tryParse(got);
        if (p) {
          clearTimeout(timer);
          sock.destroy();
          resolve(p);
        }
      });
      sock.on('error', reject);
    });
    expect(res!.status).toBe(200);
    expect(up.requests.length).toBe(n + 1);
    const rec = up.requests.at(-1)!;
    expect(rec.body.length).toBe(body.length);
    expect(createHash('sha256').update(rec.body).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(rec.headers.expect).toBeUndefined();
  });
});

describe('hop-by-hop: upstream → client', () => {
  let up: RawUpstream;
  let relay: TestRelay;
  const cases: Record<string, string> = {
    connection: 'Connection: X-Up-Hop\r\nX-Up-Hop: 1\r\nX-Up-Kept: 2\r\nContent-Length: 2\r\n\r\nok',
    'keep-alive': 'Keep-Alive: timeout=99\r\nContent-Length: 2\r\n\r\nok',
    'proxy-authenticate': 'Proxy-Authenticate: Basic realm="up"\r\nContent-Length: 2\r\n\r\nok',
    'proxy-connection': 'Proxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\nok',
    te: 'TE: trailers\r\nContent-Length: 2\r\n\r\nok',
    trailer: 'Trailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n',
    'transfer-encoding': 'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n',
    upgrade: 'Upgrade: h2c\r\nContent-Length: 2\r\n\r\nok',
  };
  beforeAll(async () => {
    up = await startRawUpstream((head) => {
      const name = head.split(' ')[1]!.split('/').pop()!;
      return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n${cases[name]}`;
    });
    relay = await startTestRelay(`
${openApiRoute(up.url)}`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('Connection and every header it names', async () => {
    const r = await rawRequest(relay.url, '/api/connection');
    expect(r.status).toBe(200);
    expect(r.headers['x-up-hop']).toBeUndefined();
    expect(r.headers['x-up-kept']).toBe('2');
    expect(r.headers.connection).toBe('close'); // the relay's own connection management only
    expect(r.body.toString()).toBe('ok');
  });

  it.each(['keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'upgrade'])('%s', async (name) => {
    const r = await rawRequest(relay.url, `/api/${name}`);
    expect(r.status).toBe(200);
    expect(r.headers[name]).toBeUndefined();
    expect(r.body.toString()).toBe('ok');
  });

  it('trailer', async () => {
    const r = await rawRequest(relay.url, '/api/trailer');
    expect(r.status).toBe(200);
    expect(r.headers.trailer).toBeUndefined();
    expect(r.body.toString()).toBe('ok');
  });

  it('transfer-encoding: the relay re-frames the body, it does not copy the header blindly', async () => {
    const r = await rawRequest(relay.url, '/api/transfer-encoding');
    expect(r.status).toBe(200);
    expect(r.rawHeaders.filter(([k]) => k === 'transfer-encoding').length).toBeLessThanOrEqual(1);
    expect(r.body.toString()).toBe('abcdef');
  });
});
