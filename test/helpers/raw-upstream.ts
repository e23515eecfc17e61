/**
 * A fake upstream over node:net that answers with exact bytes (node:http would add or refuse
 * hop-by-hop response headers). Records each request head it received.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawUpstream {
  url: string;
  port: number;
  /** Request heads received (up to the blank line). */
  heads: string[];
  close(): Promise<void>;
}

/** `respond(head)` returns the bytes to write; the socket is ended after them. */
export async function startRawUpstream(respond: (head: string) => string | Buffer): Promise<RawUpstream> {
  const heads: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.on('data', (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = buf.slice(0, end);
      buf = buf.slice(end + 4);
      heads.push(head);
      sock.end(respond(head));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    heads,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
