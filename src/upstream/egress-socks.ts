/**
 * A tunnel through a SOCKS5 proxy (RFC 1928, user/password per RFC 1929) with the `socks`
 * package, on a socket we open ourselves so an abort (connect timeout, close()) can always
 * destroy it.
 *
 * `socks5h://` hands the host NAME to the proxy, which resolves it: the API sees a lookup from the
 * proxy's region, and no DNS query for it leaves this machine. `socks5://` resolves locally and
 * sends the address, as curl does.
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { egressError } from './egress-errors.js';
import type { ProxyTarget } from './egress-url.js';
import { cjsExports } from '../util/cjs-interop.js';

type SocksClientClass = typeof import('socks').SocksClient;
let socks: Promise<SocksClientClass> | undefined;

/** `socks` is imported on the first SOCKS tunnel: relays without a SOCKS egress never load it. */
function loadSocks(): Promise<SocksClientClass> {
  socks ??= import('socks').then((m) => cjsExports<typeof import('socks')>(m).SocksClient);
  return socks;
}

export async function socksConnect(
  sock: net.Socket,
  proxy: ProxyTarget,
  host: string,
  port: number,
  signal: AbortSignal,
): Promise<net.Socket> {
  const auth = proxy.username !== undefined ? { userId: proxy.username, password: proxy.password ?? '' } : {};
  try {
    const SocksClient = await abortable(loadSocks(), signal);
    let destination = host;
    if (proxy.kind === 'socks5' && net.isIP(host) === 0) {
      destination = (await abortable(lookup(host), signal)).address;
    }
    const { socket } = await abortable(
      SocksClient.createConnection({
        command: 'connect',
        existing_socket: sock,
        proxy: { host: proxy.host, port: proxy.port, type: 5, ...auth },
        destination: { host: destination, port },
        // Our own deadline governs; this only keeps the library from arming a shorter one.
        timeout: 24 * 3600_000,
      }),
      signal,
    );
    return socket;
  } catch (err) {
    sock.destroy();
    if (signal.aborted) throw signal.reason;
    if ((err as { code?: string }).code === 'ENOTFOUND') throw err;
    const message = (err as Error).message || String(err);
    // The library reports a vanished proxy as "Socket closed"; say it the Node way.
    if (/socket closed/i.test(message)) {
      throw egressError('ECONNRESET', `SOCKS5 proxy closed the connection during the handshake for ${host}:${port}`, { cause: err });
    }
    throw egressError('ERR_EGRESS_SOCKS', `SOCKS5 ${message} (target ${host}:${port})`, { cause: err });
  }
}

/** Rejects with the signal's reason as soon as it aborts (the work itself is cleaned up by the caller). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
