/** limits.sendTimeout: a client that reads nothing for this long is dropped, and so is its upstream request. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startStreamingUpstream } from '../helpers/upstream.js';
import { startTestRelay } from '../helpers/relay.js';
import { waitFor } from '../helpers/sse.js';

describe('sendTimeout', () => {
  it('drops a client that stops reading, aborts the upstream, and logs why', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    const up = await startStreamingUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = () => {
        while (res.write(chunk)) written += chunk.length;
        written += chunk.length;
      };
      res.on('drain', pump);
      pump();
    });
    const relay = await startTestRelay(`
server:
  limits:
    sendTimeout: 500ms
routes:
  - name: big
    prefix: /big
    upstream: ${up.url}
    auth: none
`);
    const sock = net.connect(Number(new URL(relay.url).port), '127.0.0.1');
    try {
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write('GET /big/file HTTP/1.1\r\nHost: x\r\n\r\n');
      sock.pause(); // never read: the relay's writes back up
      await waitFor(() => up.requests.length === 1, 3000, 'the upstream request');
      const closed = up.requests[0]!.closed.then(() => true);
      await waitFor(() => relay.logs().includes('sendTimeout'), 8000, 'the sendTimeout log line');
      expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r(false), 3000))])).toBe(true);
      expect(written).toBeGreaterThan(0);
      expect(relay.logs()).toMatch(/client read nothing for 500ms \(sendTimeout\)/);
    } finally {
      sock.destroy();
      await relay.close();
      await up.close();
    }
  });
});
