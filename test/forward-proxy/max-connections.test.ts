/**
 * forwardProxy.maxConnections counts TCP connections (issue #15 part 2): a keep-alive connection
 * that carried a proxied request holds its slot like a tunnel does. Past the cap a connection gets
 * 503 before any request on it is read, and nothing is dialled or forwarded for it.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startStreamingUpstream } from '../helpers/upstream.js';
import { tryParse, type RawResponse } from '../helpers/raw-request.js';
import { waitFor } from '../helpers/sse.js';
import { basic, rawConnect, startTestForwardProxy } from './helpers.js';

const PASSWORD = 'fwd-cap-pa55';
const AUTH = basic('relay', PASSWORD);

/** A raw keep-alive client: `send` writes bytes, `next` waits for the next complete answer. */
function client(port: number) {
  const sock = net.connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let closed = false;
  sock.on('data', (c: Buffer) => (buf = Buffer.concat([buf, c])));
  sock.on('error', () => {});
  sock.on('close', () => (closed = true));
  const connected = new Promise<void>((r) => sock.once('connect', () => r()));
  return {
    sock,
    connected,
    isClosed: () => closed,
    async next(ms = 3000): Promise<RawResponse> {
      await waitFor(() => tryParse(buf, closed) !== undefined, ms, 'an answer from the forward proxy');
      const r = tryParse(buf, closed)!;
      buf = Buffer.alloc(0); // one request at a time on these connections: the next answer starts afresh
      return r;
    },
  };
}

function absoluteGet(upPort: number, path: string): string {
  return `GET http://127.0.0.1:${upPort}${path} HTTP/1.1\r\nHost: 127.0.0.1:${upPort}\r\nProxy-Authorization: ${AUTH}\r\n\r\n`;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('forwardProxy.maxConnections', () => {
  it('idle keep-alive connections hold their slots: the next connection gets 503 and nothing is forwarded or dialled; a slot frees when one closes', async () => {
    const CAP = 3;
    const up = await startStreamingUpstream((_req, res) => res.end('ok'));
    cleanups.push(() => up.close());
    let dials = 0;
    up.server.on('connection', () => dials++);
    const proxy = await startTestForwardProxy({ users: { relay: PASSWORD }, denyPrivateNetworks: false, allow: [`127.0.0.1:${up.port}`], maxConnections: CAP });
    cleanups.push(() => proxy.close());

    // CAP keep-alive connections, each after one completed proxied request (idle, still open).
    const held: ReturnType<typeof client>[] = [];
    cleanups.push(() => held.forEach((c) => c.sock.destroy()));
    for (let i = 0; i < CAP; i++) {
      const c = client(proxy.address.port);
      held.push(c);
      await c.connected;
      c.sock.write(absoluteGet(up.port, `/held/${i}`));
      expect((await c.next()).status).toBe(200);
    }
    expect(up.requests).toHaveLength(CAP);
    const dialsBefore = dials;

    // Absolute-form and CONNECT on new connections: refused at the cap, before being read.
    const extra = client(proxy.address.port);
    cleanups.push(() => extra.sock.destroy());
    await extra.connected;
    extra.sock.write(absoluteGet(up.port, '/over'));
    const refused = await extra.next();
    expect(refused.status).toBe(503);
    expect(refused.body.toString()).toContain('too many connections');
    const tunnel = await rawConnect(proxy.address.port, `127.0.0.1:${up.port}`, { 'Proxy-Authorization': AUTH });
    tunnel.socket.destroy();
    expect(tunnel.head).toMatch(/^HTTP\/1\.1 503 /);
    await new Promise((r) => setTimeout(r, 200)); // a forwarded request or a dial would show up well within this
    expect(up.requests).toHaveLength(CAP);
    expect(dials).toBe(dialsBefore);
    expect(proxy.records().filter((r) => r.outcome === 'overloaded')).toHaveLength(2);

    // One held connection closes: a new connection is served again.
    held[0]!.sock.destroy();
    let status = 0;
    const end = Date.now() + 2000;
    while (status !== 200 && Date.now() < end) {
      const c = client(proxy.address.port);
      cleanups.push(() => c.sock.destroy());
      await c.connected;
      c.sock.write(absoluteGet(up.port, '/again'));
      status = (await c.next()).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
    expect(up.requests.filter((r) => r.url === '/again')).toHaveLength(1);
  });
});
