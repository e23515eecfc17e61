/**
 * Forward-proxy mode with real clients: Debian curl with -x/--proxy-user through CONNECT to a
 * TLS upstream and absolute-form to a plain one, raw CONNECTs for the refusals, and our own
 * egress connector as the client of the chain's second hop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import type { GeneratedCertificate } from '../../src/tls/generate.js';
import { createEgress } from '../../src/upstream/egress.js';
import { startNetServer, startUpstream, testCert } from '../egress/servers.js';
import { basic, closedWithin, curl, rawConnect, startTestForwardProxy } from './helpers.js';

const PASSWORD = 'fwd-pa55word';
let cert: GeneratedCertificate;
let dir: string;
let caFile: string;
let tlsUp: Awaited<ReturnType<typeof startUpstream>>;
let plainUp: Awaited<ReturnType<typeof startUpstream>>;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cert = await testCert();
  dir = mkdtempSync(join(tmpdir(), 'fwd-proxy-'));
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, cert.certPem);
  tlsUp = await startUpstream(cert, (req, res) => {
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      setTimeout(() => res.end('data: two\n\n'), 400);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url }));
  });
  plainUp = await startUpstream();
  closers.push(tlsUp.close, plainUp.close);
});

afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function fwd(cfg: Record<string, unknown>) {
  const p = await startTestForwardProxy({ users: { relay: PASSWORD }, denyPrivateNetworks: false, ...cfg });
  closers.push(p.close);
  return p;
}

describe('CONNECT', () => {
  it('curl tunnels to a TLS upstream with --proxy-user; one log line without the password', async () => {
    const p = await fwd({ allow: [`localhost:${tlsUp.port}`] });
    const res = await curl(['-x', p.url, '--proxy-user', `relay:${PASSWORD}`, '--cacert', caFile, `https://localhost:${tlsUp.port}/v1/models`]);
    expect(res.stderr).toBe('');
    expect(res.stdout).toBe(JSON.stringify({ path: '/v1/models' }));
    expect(tlsUp.requests.at(-1)!.headers['proxy-authorization']).toBeUndefined();
    await new Promise((r) => setTimeout(r, 100)); // the line is written when both sockets have closed
    const recs = p.records();
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ kind: 'connect', user: 'relay', target: `localhost:${tlsUp.port}`, outcome: 'ok', status: 200 });
    expect(recs[0]!.bytesUp).toBeGreaterThan(200); // ClientHello and request
    expect(recs[0]!.bytesDown).toBeGreaterThan(300); // certificate and response
    expect(recs[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(p.logs()).not.toContain(PASSWORD);
    expect(p.logs()).not.toContain(Buffer.from(`relay:${PASSWORD}`).toString('base64'));
  });

  it('407 with Proxy-Authenticate for a missing or wrong password', async () => {
    const p = await fwd({ allow: [`localhost:${tlsUp.port}`] });
    const res = await curl(['-o', '/dev/null', '-w', '%{http_connect}', '-x', p.url, '--proxy-user', 'relay:wrong', '--cacert', caFile, `https://localhost:${tlsUp.port}/`]);
    expect(res.stdout).toBe('407');
    const raw = await rawConnect(p.address.port, `localhost:${tlsUp.port}`);
    raw.socket.destroy();
    expect(raw.head).toMatch(/^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
    expect(raw.head).toContain('Proxy-Authenticate: Basic realm="ai-relay"');
    const recs = p.records();
    expect(recs.map((r) => r.outcome)).toEqual(['auth_required', 'auth_required']);
    expect(recs[0]!.user).toBe('relay');
    expect(p.logs()).not.toContain('wrong');
  });

  it('403 for a target outside allow; wildcards match subdomains only', async () => {
    const p = await fwd({ allow: [`127.0.0.1:${tlsUp.port}`, '*.googleapis.com:443'] });
    const res = await curl(['-o', '/dev/null', '-w', '%{http_connect}', '-x', p.url, '--proxy-user', `relay:${PASSWORD}`, '--cacert', caFile, `https://localhost:${tlsUp.port}/`]);
    expect(res.stdout).toBe('403');
    const auth = { 'Proxy-Authorization': basic('relay', PASSWORD) };
    const other = await rawConnect(p.address.port, `127.0.0.1:${tlsUp.port + 1}`, auth);
    other.socket.destroy();
    expect(other.head).toMatch(/^HTTP\/1\.1 403 /);
    const apex = await rawConnect(p.address.port, 'googleapis.com:443', auth);
    apex.socket.destroy();
    expect(apex.head).toMatch(/^HTTP\/1\.1 403 /);
    expect(p.records().map((r) => r.outcome)).toEqual(['not_allowed', 'not_allowed', 'not_allowed']);
  });

  it('denyPrivateNetworks refuses 127.0.0.2 and a name resolving to loopback; allowed when off', async () => {
    // a listener on 127.0.0.2 (all of 127/8 is loopback on Linux)
    const two = await startNetServer((s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi'), '127.0.0.2');
    closers.push(two.close);
    const { port } = two;

    const on = await fwd({ allow: [`127.0.0.2:${port}`, `localhost:${port}`, `[::ffff:127.0.0.2]:${port}`], denyPrivateNetworks: true });
    for (const target of [`127.0.0.2:${port}`, `localhost:${port}`, `[::ffff:127.0.0.2]:${port}`]) {
      const res = await curl(['-o', '/dev/null', '-w', '%{http_connect}', '-x', on.url, '--proxy-user', `relay:${PASSWORD}`, `http://${target}/`, '-p']);
      expect(res.stdout, target).toBe('403');
    }
    expect(on.records().map((r) => r.outcome)).toEqual(['private_address', 'private_address', 'private_address']);

    const off = await fwd({ allow: [`127.0.0.2:${port}`], denyPrivateNetworks: false });
    const ok = await curl(['-x', off.url, '--proxy-user', `relay:${PASSWORD}`, `http://127.0.0.2:${port}/`, '-p']);
    expect(ok.stdout).toBe('hi');
  });

  it('the deny check covers every resolved address, and the dial uses the checked address, not the name', async () => {
    const asked: string[] = [];
    const lookup = async (host: string) => {
      asked.push(host);
      return host === 'mixed.test' ? ['203.0.113.7', '10.0.0.1'] : ['127.0.0.1'];
    };
    const mixed = await startTestForwardProxy(
      { users: { relay: PASSWORD }, allow: [`mixed.test:${plainUp.port}`], denyPrivateNetworks: true },
      { lookup },
    );
    closers.push(mixed.close);
    const auth = { 'Proxy-Authorization': basic('relay', PASSWORD) };
    const r = await rawConnect(mixed.address.port, `mixed.test:${plainUp.port}`, auth);
    r.socket.destroy();
    expect(r.head).toMatch(/^HTTP\/1\.1 403 /);
    expect(mixed.records()[0]).toMatchObject({ outcome: 'private_address' });
    expect(String(mixed.records()[0]!.error)).toContain('10.0.0.1');

    // only our lookup knows only.test; reaching plainUp proves the socket went to the address it returned
    const off = await startTestForwardProxy({ users: { relay: PASSWORD }, allow: [`only.test:${plainUp.port}`], denyPrivateNetworks: false }, { lookup });
    closers.push(off.close);
    const res = await curl(['-x', off.url, '--proxy-user', `relay:${PASSWORD}`, '-p', `http://only.test:${plainUp.port}/via-lookup`]);
    expect(res.stdout).toBe(JSON.stringify({ path: '/via-lookup' }));
    expect(asked).toEqual(['mixed.test', 'only.test']);
  });

  it('idle tunnels are closed after idleTimeout', async () => {
    let open = 0;
    const silent = await startNetServer((s) => {
      open++;
      s.on('close', () => open--);
      s.resume(); // reads, so it sees the FIN
    });
    closers.push(silent.close);
    const { port } = silent;
    const p = await fwd({ allow: [`127.0.0.1:${port}`], idleTimeout: '300ms' });
    const t = await rawConnect(p.address.port, `127.0.0.1:${port}`, { 'Proxy-Authorization': basic('relay', PASSWORD) });
    expect(t.head).toMatch(/^HTTP\/1\.1 200 /);
    t.socket.write('hello');
    const ms = await closedWithin(t.socket, 3000);
    expect(ms).toBeGreaterThanOrEqual(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(p.records()[0]).toMatchObject({ outcome: 'idle_timeout', bytesUp: 5, bytesDown: 0 });
    // the proxy's side of the upstream connection is gone too
    await new Promise((r) => setTimeout(r, 100));
    expect(open).toBe(0);
  });

  it('past maxConnections a CONNECT gets 503; close() ends live tunnels', async () => {
    const p = await fwd({ allow: [`127.0.0.1:${plainUp.port}`], maxConnections: 1 });
    const auth = { 'Proxy-Authorization': basic('relay', PASSWORD) };
    const first = await rawConnect(p.address.port, `127.0.0.1:${plainUp.port}`, auth);
    expect(first.head).toMatch(/^HTTP\/1\.1 200 /);
    const second = await rawConnect(p.address.port, `127.0.0.1:${plainUp.port}`, auth);
    second.socket.destroy();
    expect(second.head).toMatch(/^HTTP\/1\.1 503 /);
    const t0 = Date.now();
    await p.close();
    await closedWithin(first.socket, 2000);
    expect(Date.now() - t0).toBeLessThan(2000);
    await new Promise((r) => setTimeout(r, 50));
    expect(p.records().map((r) => r.outcome).sort()).toEqual(['overloaded', 'shutdown']);
  });
});

describe('absolute-form HTTP', () => {
  it('forwards GET http://host/path without proxy headers', async () => {
    const p = await fwd({ allow: [`127.0.0.1:${plainUp.port}`] });
    const res = await curl([
      '-x', p.url, '--proxy-user', `relay:${PASSWORD}`,
      '-H', 'Connection: X-Drop-Me', '-H', 'X-Drop-Me: 1', '-H', 'X-Keep: 2',
      `http://127.0.0.1:${plainUp.port}/v1/x?q=1`,
    ]);
    expect(res.stdout).toBe(JSON.stringify({ path: '/v1/x?q=1' }));
    const seen = plainUp.requests.at(-1)!;
    expect(seen.url).toBe('/v1/x?q=1');
    expect(seen.headers.host).toBe(`127.0.0.1:${plainUp.port}`);
    expect(seen.headers['x-keep']).toBe('2');
    expect(seen.headers['x-drop-me']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['proxy-connection']).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(p.records()[0]).toMatchObject({ kind: 'http', user: 'relay', outcome: 'ok', status: 200 });
    expect(p.logs()).not.toContain(PASSWORD);
  });

  it('407 and 403 apply to absolute-form too', async () => {
    const p = await fwd({ allow: [`127.0.0.1:${plainUp.port}`] });
    const noAuth = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', p.url, `http://127.0.0.1:${plainUp.port}/`]);
    expect(noAuth.stdout).toBe('407');
    const other = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', p.url, '--proxy-user', `relay:${PASSWORD}`, `http://127.0.0.1:${plainUp.port + 1}/`]);
    expect(other.stdout).toBe('403');
  });
});

describe('chain: our egress connector → forward proxy → TLS upstream', () => {
  it('an SSE stream arrives incrementally through the tunnel', async () => {
    const p = await fwd({ allow: [`localhost:${tlsUp.port}`] });
    const origin = `https://localhost:${tlsUp.port}`;
    const egress = createEgress({
      proxy: `http://relay:${encodeURIComponent(PASSWORD)}@127.0.0.1:${p.address.port}`,
      origin,
      tls: { ca: cert.certPem },
      connectTimeout: 3000,
      env: {},
    });
    const pool = new Pool(origin, { connect: egress.connect });
    try {
      const res = await pool.request({ method: 'GET', path: '/sse', signal: AbortSignal.timeout(5000) });
      expect(res.statusCode).toBe(200);
      const arrivals: { t: number; text: string }[] = [];
      const t0 = Date.now();
      for await (const chunk of res.body) arrivals.push({ t: Date.now() - t0, text: String(chunk) });
      expect(arrivals.map((a) => a.text).join('')).toBe('data: one\n\ndata: two\n\n');
      expect(arrivals[0]!.text).toBe('data: one\n\n');
      expect(arrivals.at(-1)!.t - arrivals[0]!.t).toBeGreaterThanOrEqual(300);
    } finally {
      await pool.close();
      await egress.close();
    }
    await p.close();
    await until(() => p.records().length > 0);
    expect(p.records()[0]).toMatchObject({ kind: 'connect', user: 'relay' });
  });
});
