/**
 * The egress connector against real local proxies: each kind reaches a TLS upstream through its
 * proxy with the route's TLS options applied inside the tunnel, and every proxy failure ends the
 * request fast, names the egress without credentials, and leaves the CPU idle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { createEgress, type EgressOptions } from '../../src/upstream/egress.js';
import type { GeneratedCertificate } from '../../src/tls/generate.js';
import {
  cpuShare,
  startConnectProxy,
  startDroppingProxy,
  startSilentProxy,
  startSocksServer,
  startUpstream,
  testCert,
} from './servers.js';

let cert: GeneratedCertificate;
let clientCert: GeneratedCertificate;
let upstream: Awaited<ReturnType<typeof startUpstream>>;
let plainUpstream: Awaited<ReturnType<typeof startUpstream>>;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [cert, clientCert] = await Promise.all([testCert(), testCert(['client.test'])]);
  upstream = await startUpstream(cert, undefined, { requestCert: true });
  plainUpstream = await startUpstream();
  closers.push(upstream.close, plainUpstream.close);
});

afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

function egressFor(proxy: string, origin: string, extra: Partial<EgressOptions> = {}) {
  return createEgress({ proxy, origin, tls: { ca: cert.certPem }, connectTimeout: 3000, env: {}, ...extra });
}

/** One GET through a Pool whose connections come from `egress.connect`. */
async function get(origin: string, egress: ReturnType<typeof createEgress>, path = '/v1/models') {
  const pool = new Pool(origin, { connect: egress.connect });
  try {
    const res = await pool.request({ method: 'GET', path, signal: AbortSignal.timeout(5000) });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await pool.close();
    await egress.close();
  }
}

async function failure(origin: string, egress: ReturnType<typeof createEgress>) {
  const t0 = Date.now();
  const err = await get(origin, egress).then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string },
  );
  expect(err, 'the request should have failed').toBeDefined();
  return { err: err!, ms: Date.now() - t0 };
}

describe('HTTP CONNECT proxy', () => {
  it('tunnels to a TLS upstream with Basic auth; extra CA and client cert apply inside the tunnel', async () => {
    const proxy = await startConnectProxy({ user: 'u', pass: 'p@ss' });
    closers.push(proxy.close);
    const egress = egressFor(`http://u:p%40ss@127.0.0.1:${proxy.port}`, upstream.url, {
      tls: { ca: cert.certPem, cert: clientCert.certPem, key: clientCert.keyPem },
    });
    expect(egress.describe).toBe(`http://127.0.0.1:${proxy.port}`);
    const before = upstream.requests.length;
    const res = await get(upstream.url, egress);
    expect(res).toEqual({ status: 200, body: JSON.stringify({ path: '/v1/models' }) });
    expect(proxy.connects).toHaveLength(1);
    expect(proxy.connects[0]!.url).toBe(`127.0.0.1:${upstream.port}`);
    // percent-decoded: the proxy got "u:p@ss"
    expect(proxy.connects[0]!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('u:p@ss').toString('base64')}`);
    const seen = upstream.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers['proxy-authorization']).toBeUndefined();
    const { X509Certificate } = await import('node:crypto');
    expect(seen[0]!.clientCert).toBe(new X509Certificate(clientCert.certPem).fingerprint256);
  });

  it('without the extra CA the upstream certificate is refused, and the error names the egress', async () => {
    const proxy = await startConnectProxy();
    closers.push(proxy.close);
    const { err } = await failure(upstream.url, egressFor(`http://127.0.0.1:${proxy.port}`, upstream.url, { tls: {} }));
    expect(err.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(err.message).toContain(`via egress http://127.0.0.1:${proxy.port}`);
  });

  it('a plain-http upstream goes through a CONNECT tunnel too', async () => {
    const proxy = await startConnectProxy();
    closers.push(proxy.close);
    const res = await get(plainUpstream.url, egressFor(proxy.url, plainUpstream.url));
    expect(res.status).toBe(200);
    expect(proxy.connects.map((c) => c.url)).toEqual([`127.0.0.1:${plainUpstream.port}`]);
  });

  it('an https:// proxy: TLS to the proxy (proxyTls), then TLS to the upstream inside it', async () => {
    const proxyCert = await testCert(['127.0.0.1']);
    const proxy = await startConnectProxy({ user: 'u', pass: 'p' }, proxyCert);
    closers.push(proxy.close);
    const egress = egressFor(`https://u:p@127.0.0.1:${proxy.port}`, upstream.url, { proxyTls: { ca: proxyCert.certPem } });
    expect(egress.describe).toBe(`https://127.0.0.1:${proxy.port}`);
    expect((await get(upstream.url, egress)).status).toBe(200);
    expect(proxy.connects.map((c) => c.url)).toEqual([`127.0.0.1:${upstream.port}`]);
    // without the proxy's CA the TLS to the proxy fails, and says so via the egress
    const { err } = await failure(upstream.url, egressFor(`https://u:p@127.0.0.1:${proxy.port}`, upstream.url));
    expect(err.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(err.message).toContain(`via egress https://127.0.0.1:${proxy.port}`);
  });

  it('407 fails with a message naming the egress, credentials stripped', async () => {
    const proxy = await startConnectProxy({ user: 'u', pass: 'right' });
    closers.push(proxy.close);
    const { err, ms } = await failure(upstream.url, egressFor(`http://u:wrong-secret@127.0.0.1:${proxy.port}`, upstream.url));
    expect(err.message).toBe(`via egress http://127.0.0.1:${proxy.port}: 407 Proxy Authentication Required`);
    expect(err.code).toBe('ERR_EGRESS_PROXY_STATUS');
    expect(String(err.stack) + JSON.stringify(err)).not.toContain('wrong-secret');
    expect(ms).toBeLessThan(2000);
  });

  it('a proxy that drops the CONNECT fails fast and leaves the CPU idle (undici #3897)', async () => {
    const proxy = await startDroppingProxy();
    closers.push(proxy.close);
    const { err, ms } = await failure(upstream.url, egressFor(proxy.url, upstream.url));
    expect(err.code).toBe('ECONNRESET');
    expect(err.message).toContain(`via egress ${proxy.url}: proxy closed the connection without answering CONNECT`);
    expect(ms).toBeLessThan(3000);
    const share = await cpuShare(1000);
    expect(share).toBeLessThan(0.3);
    // undici's ProxyAgent would be reconnecting thousands of times per second here
    expect(proxy.attempts()).toBe(1);
  });

  it('a silent proxy fails at the connect timeout', async () => {
    const proxy = await startSilentProxy();
    closers.push(proxy.close);
    const { err, ms } = await failure(upstream.url, egressFor(proxy.url, upstream.url, { connectTimeout: 300 }));
    expect(err.code).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(err.message).toContain(`via egress ${proxy.url}: connect timeout after 300 ms (waiting for the proxy to answer CONNECT`);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(1500);
    expect(await cpuShare(500)).toBeLessThan(0.3);
  });

  it('a refused proxy port fails with ECONNREFUSED naming the egress', async () => {
    const proxy = await startSilentProxy();
    await proxy.close();
    const { err } = await failure(upstream.url, egressFor(`http://u:pw-secret@127.0.0.1:${proxy.port}`, upstream.url));
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.message).toMatch(new RegExp(`^via egress http://127\\.0\\.0\\.1:${proxy.port}: `));
    expect(err.message).not.toContain('pw-secret');
  });

  it('close() aborts a connect still waiting on the proxy', async () => {
    const proxy = await startSilentProxy();
    closers.push(proxy.close);
    const egress = egressFor(proxy.url, upstream.url, { connectTimeout: 10_000 });
    const pool = new Pool(upstream.url, { connect: egress.connect });
    const pending = pool.request({ method: 'GET', path: '/' }).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await egress.close();
    const err = await pending;
    expect(err?.code).toBe('ERR_EGRESS_CLOSED');
    expect(Date.now() - t0).toBeLessThan(1000);
    await pool.destroy();
  });
});

describe('SOCKS5', () => {
  it('socks5 without auth resolves locally and sends the address', async () => {
    const s = await startSocksServer();
    closers.push(s.close);
    const origin = `https://localhost:${upstream.port}`;
    const egress = egressFor(`socks5://127.0.0.1:${s.port}`, origin);
    expect(egress.describe).toBe(`socks5://127.0.0.1:${s.port}`);
    const res = await get(origin, egress);
    expect(res.status).toBe(200);
    expect(s.destinations).toHaveLength(1);
    expect(['127.0.0.1', '::1']).toContain(s.destinations[0]!.address);
    expect(s.destinations[0]!.port).toBe(upstream.port);
  });

  it('socks5h sends the NAME to the proxy, which resolves it', async () => {
    // api.upstream.test does not resolve here; only the SOCKS server knows it.
    const s = await startSocksServer({ auth: { user: 'su', pass: 's:ecret' }, hosts: { 'api.upstream.test': '127.0.0.1' } });
    closers.push(s.close);
    const origin = `https://api.upstream.test:${upstream.port}`;
    const egress = egressFor(`socks5h://su:s%3Aecret@127.0.0.1:${s.port}`, origin);
    expect(egress.describe).toBe(`socks5h://127.0.0.1:${s.port}`);
    const res = await get(origin, egress);
    expect(res.status).toBe(200);
    expect(s.destinations).toEqual([{ address: 'api.upstream.test', port: upstream.port }]);
    expect(upstream.requests.at(-1)!.headers.host).toBe(`api.upstream.test:${upstream.port}`);
  });

  it('wrong SOCKS credentials fail with a message naming the egress, credentials stripped', async () => {
    const s = await startSocksServer({ auth: { user: 'su', pass: 'right' } });
    closers.push(s.close);
    const { err, ms } = await failure(upstream.url, egressFor(`socks5h://su:wrong-pw@127.0.0.1:${s.port}`, upstream.url));
    expect(err.message).toMatch(new RegExp(`^via egress socks5h://127\\.0\\.0\\.1:${s.port}: SOCKS5 `));
    expect(err.message).not.toContain('wrong-pw');
    expect(['ERR_EGRESS_SOCKS', 'ECONNRESET']).toContain(err.code);
    expect(s.authFailures()).toBe(1);
    expect(ms).toBeLessThan(2000);
  });
});

describe('env', () => {
  it('HTTPS_PROXY is used, and NO_PROXY exclusions go direct', async () => {
    const proxy = await startConnectProxy({ user: 'e', pass: 'nv' });
    closers.push(proxy.close);
    const env = { HTTPS_PROXY: `http://e:nv@127.0.0.1:${proxy.port}`, NO_PROXY: 'example.com' };
    const via = egressFor('env', upstream.url, { env });
    expect(via.describe).toBe(`http://127.0.0.1:${proxy.port}`);
    expect((await get(upstream.url, via)).status).toBe(200);
    expect(proxy.connects).toHaveLength(1);

    const direct = egressFor('env', upstream.url, { env: { ...env, no_proxy: `localhost,127.0.0.1:${upstream.port}` } });
    expect(direct.describe).toBe('direct');
    expect((await get(upstream.url, direct)).status).toBe(200);
    expect(proxy.connects).toHaveLength(1);
  });
});
