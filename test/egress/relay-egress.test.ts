/**
 * Egress end to end through the relay: a route whose `egress.proxy` is an authenticating
 * CONNECT proxy, the errors a client sees when that proxy refuses or drops the CONNECT, `env`
 * egress with socks5h and NO_PROXY, and the A→B chain — relay A's route egress pointing at a
 * forward proxy B (our own forward-proxy mode) in front of a TLS upstream — with an SSE stream
 * arriving event by event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GeneratedCertificate } from '../../src/tls/generate.js';
import { startTestRelay } from '../helpers/relay.js';
import { gate } from '../helpers/sse.js';
import { startTestForwardProxy } from '../forward-proxy/helpers.js';
import { cpuShare, startConnectProxy, startDroppingProxy, startSocksServer, startUpstream, testCert } from './servers.js';

let cert: GeneratedCertificate;
let dir: string;
let up: Awaited<ReturnType<typeof startUpstream>>;
let firstSeen = gate();
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cert = await testCert();
  dir = mkdtempSync(join(tmpdir(), 'relay-egress-'));
  writeFileSync(join(dir, 'ca.pem'), cert.certPem);
  up = await startUpstream(cert, (req, res) => {
    if (req.url === '/v1/sse') {
      // Event 2 is held until the client saw event 1: any buffering on the way would deadlock.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      void firstSeen.wait.then(() => res.end('data: {"n":2}\n\ndata: [DONE]\n\n'));
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url }));
  });
  closers.push(up.close);
});

afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  rmSync(dir, { recursive: true, force: true });
});

/** Reads a response body as text: up to a marker (event 1), then the rest. */
function streamText(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  return {
    async until(marker: string): Promise<string> {
      let text = '';
      while (!text.includes(marker)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${marker}`);
        text += decoder.decode(value, { stream: true });
      }
      return text;
    },
    async rest(): Promise<string> {
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return text;
        text += decoder.decode(value, { stream: true });
      }
    },
  };
}

function routeYaml(proxy: string, upstream = `https://localhost:${up.port}`, extra = ''): string {
  return `
routes:
  - name: api
    prefix: /api
    upstream: ${upstream}
    auth: none
    retries: 0
    connectTimeout: 2s
    tls:
      ca: ca.pem
    egress:
      proxy: ${proxy}
${extra}`;
}

async function relayWith(yaml: string, env: Record<string, string> = {}) {
  const r = await startTestRelay(yaml, { dir, env });
  closers.push(r.close);
  return r;
}

describe('route egress through the relay', () => {
  it('an authenticating CONNECT proxy carries the route; its password never reaches a log line', async () => {
    const proxy = await startConnectProxy({ user: 'eg', pass: 'egress-pa55' });
    closers.push(proxy.close);
    const relay = await relayWith(routeYaml(`http://eg:\${EGRESS_PASS}@127.0.0.1:${proxy.port}`), { EGRESS_PASS: 'egress-pa55' });
    const res = await fetch(`${relay.url}/api/v1/models`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: '/v1/models' });
    expect(proxy.connects.map((c) => c.url)).toEqual([`localhost:${up.port}`]);
    expect(proxy.connects[0]!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('eg:egress-pa55').toString('base64')}`);
    expect(up.requests.at(-1)!.headers['proxy-authorization']).toBeUndefined();
    expect(relay.logs()).not.toContain('egress-pa55');
  });

  it('407 from the proxy: 502 upstream_unreachable naming the egress, no credentials', async () => {
    const proxy = await startConnectProxy({ user: 'eg', pass: 'right' });
    closers.push(proxy.close);
    const relay = await relayWith(routeYaml(`http://eg:\${EGRESS_PASS}@127.0.0.1:${proxy.port}`), { EGRESS_PASS: 'wrong-pa55' });
    const res = await fetch(`${relay.url}/api/v1/models`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('upstream_unreachable');
    expect(body.error.message).toContain(`via egress http://127.0.0.1:${proxy.port}`);
    expect(body.error.message).toContain('407 Proxy Authentication Required');
    expect(JSON.stringify(body) + relay.logs()).not.toContain('wrong-pa55');
  });

  it('a proxy that drops the CONNECT: 502 within the connect timeout, CPU idle afterwards', async () => {
    const proxy = await startDroppingProxy();
    closers.push(proxy.close);
    const relay = await relayWith(routeYaml(proxy.url));
    const t0 = Date.now();
    const res = await fetch(`${relay.url}/api/v1/models`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(502);
    expect(Date.now() - t0).toBeLessThan(2000);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain(`via egress ${proxy.url}`);
    expect(await cpuShare(1000)).toBeLessThan(0.3);
    expect(proxy.attempts()).toBe(1);
  });

  it('env egress: socks5h from ALL_PROXY sends the name to the proxy; NO_PROXY hosts go direct', async () => {
    const socks = await startSocksServer({ hosts: { 'api.upstream.test': '127.0.0.1' } });
    closers.push(socks.close);
    const yaml = `
egress:
  proxy: env
routes:
  - name: far
    prefix: /far
    upstream: https://api.upstream.test:${up.port}
    auth: none
    tls: { ca: ca.pem }
  - name: near
    prefix: /near
    upstream: https://localhost:${up.port}
    auth: none
    tls: { ca: ca.pem }
`;
    const relay = await relayWith(yaml, { ALL_PROXY: `socks5h://127.0.0.1:${socks.port}`, NO_PROXY: 'localhost' });
    const far = await fetch(`${relay.url}/far/x`, { signal: AbortSignal.timeout(5000) });
    expect(far.status).toBe(200);
    expect(socks.destinations).toEqual([{ address: 'api.upstream.test', port: up.port }]);
    const near = await fetch(`${relay.url}/near/y`, { signal: AbortSignal.timeout(5000) });
    expect(near.status).toBe(200);
    expect(socks.destinations).toHaveLength(1);
  });
});

describe('chain A → B', () => {
  it("relay A's route egress → B's forward proxy → TLS upstream, SSE event by event", async () => {
    firstSeen = gate();
    const b = await startTestForwardProxy({
      users: { relay: 'b-pa55word' },
      allow: [`localhost:${up.port}`],
      denyPrivateNetworks: false, // the test upstream is on loopback
    });
    closers.push(b.close);
    const a = await relayWith(routeYaml(`http://relay:\${B_PASS}@127.0.0.1:${b.address.port}`), { B_PASS: 'b-pa55word' });
    const res = await fetch(`${a.url}/api/v1/sse`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const stream = streamText(res);
    let text = await stream.until('"n":1');
    expect(text).not.toContain('"n":2'); // event 2 has not even been written yet
    firstSeen.open();
    text += await stream.rest();
    expect(text).toContain('data: {"n":2}');
    expect(text).toContain('[DONE]');
    await a.close();
    const deadline = Date.now() + 2000;
    while (b.records().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(b.records()[0]).toMatchObject({ kind: 'connect', user: 'relay', target: `localhost:${up.port}` });
    expect(b.logs() + a.logs()).not.toContain('b-pa55word');
  });
});

describe('chain A → relay B (serve with forwardProxy)', () => {
  it("relay B's forwardProxy section tunnels relay A's route to the TLS upstream, streaming intact", async () => {
    firstSeen = gate();
    const b = await relayWith(
      `
forwardProxy:
  port: 0
  host: 127.0.0.1
  users:
    relay: \${B_PASS}
  allow: ["localhost:${up.port}"]
  denyPrivateNetworks: false
`,
      { B_PASS: 'b2-pa55word' },
    );
    expect(b.relay.forwardProxy).toBeDefined();
    const port = b.relay.forwardProxy!.address.port;
    const a = await relayWith(routeYaml(`http://relay:\${B_PASS}@127.0.0.1:${port}`), { B_PASS: 'b2-pa55word' });
    const res = await fetch(`${a.url}/api/v1/sse`, { signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(200);
    const stream = streamText(res);
    let text = await stream.until('"n":1');
    expect(text).not.toContain('"n":2');
    firstSeen.open();
    text += await stream.rest();
    expect(text).toContain('[DONE]');
    // A wrong password at B → A answers 502 naming B's egress once, without credentials.
    const bad = await relayWith(routeYaml(`http://relay:wrong-pass@127.0.0.1:${port}`));
    const r = await fetch(`${bad.url}/api/v1/models`, { signal: AbortSignal.timeout(5000) });
    expect(r.status).toBe(502);
    const msg = ((await r.json()) as { error: { message: string } }).error.message;
    expect(msg).toBe(`upstream https://localhost:${up.port} via egress http://127.0.0.1:${port} is unreachable: 407 Proxy Authentication Required`);
    expect(a.logs() + b.logs() + bad.logs()).not.toContain('b2-pa55word');
  });
});
