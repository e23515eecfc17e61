/**
 * The connection cap (`server.limits.maxConnections`, `forwardProxy.maxConnections`), enforced on
 * the raw TCP 'connection' event before node:http, node:tls or node:http2 see the socket.
 *
 * Why the listeners are moved: each server constructor registers its own 'connection' listener
 * (node:http attaches its request parser there; node:tls starts the handshake there, and the h2
 * session or the HTTP/1.1 parser follow on 'secureConnection'). A listener added later runs after
 * them, so a socket it "refuses" has already been given a parser: the request on it was parsed
 * and forwarded upstream anyway (issue #15). Here the original listeners are taken off and called
 * only for sockets under the cap; an over-cap socket is never parsed, handshaken or turned into an
 * h2 session. One TCP connection counts once, whatever it carries (HTTP/1.1, h2 with many
 * streams, a CONNECT tunnel).
 *
 * Install the gate after every other 'connection' listener is registered: a listener added later
 * would still see refused sockets.
 */
import type { Server, Socket } from 'node:net';
import { LiveSet } from './live-set.js';

export interface GateOptions {
  /** Read for every new connection, so a reload that changes the cap applies at once. */
  max(): number;
  /** Answers a socket past the cap; it is not counted and must end itself (see refuseWith). */
  refuse(sock: Socket): void;
  /** Called for every accepted socket before the server's own listeners. */
  accepted?(sock: Socket): void;
}

export interface ConnectionGate {
  /** Accepted connections still open. */
  readonly size: number;
  /** Destroys every accepted connection and every refused one still lingering. */
  destroyAll(): void;
}

export function gateConnections(server: Server, opts: GateOptions): ConnectionGate {
  const originals = server.listeners('connection') as ((sock: Socket) => void)[];
  server.removeAllListeners('connection');
  const open = new LiveSet<Socket>(); // connection churn: see live-set.ts
  const refused = new LiveSet<Socket>();
  server.on('connection', (sock: Socket) => {
    if (open.size >= opts.max()) {
      refused.add(sock);
      sock.once('close', () => refused.delete(sock));
      opts.refuse(sock);
      return;
    }
    open.add(sock);
    sock.once('close', () => open.delete(sock));
    opts.accepted?.(sock);
    for (const l of originals) l.call(server, sock);
  });
  return {
    get size() {
      return open.size;
    },
    destroyAll() {
      for (const s of open) s.destroy();
      for (const s of refused) s.destroy();
    },
  };
}

/** How long a refused socket may stay open while its client reads the answer. */
const LINGER_MS = 1000;

/**
 * Writes `answer` and closes. What the client already sent is read and dropped: closing a socket
 * with unread bytes sends an RST, and the client may then lose the answer. A client that does not
 * close its side is cut after LINGER_MS, so refused sockets cannot pile up.
 */
export function refuseWith(sock: Socket, answer: string): void {
  sock.on('error', () => {}); // no parser owns this socket: a reset must not crash the process
  sock.on('end', () => sock.destroy());
  sock.resume();
  sock.end(answer);
  const timer = setTimeout(() => sock.destroy(), LINGER_MS);
  timer.unref();
  sock.once('close', () => clearTimeout(timer));
}
