/**
 * A CONNECT tunnel through an HTTP(S) proxy, done by hand on a raw socket.
 *
 * Why not undici's ProxyAgent: in undici 7 a proxy that accepts the TCP connection and then
 * closes it without answering the CONNECT sends ProxyAgent into a reconnect loop at 100 % CPU
 * that no timeout or AbortSignal ends (nodejs/undici #3897, #5093; fixed only in undici 8, which
 * needs Node 22). Here every way the CONNECT can fail — refused, dropped, non-2xx, silent —
 * settles the returned promise exactly once and leaves nothing running.
 */
import net from 'node:net';
import tls from 'node:tls';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { egressError } from './egress-errors.js';
import type { ProxyTarget } from './egress-url.js';

/** A proxy answer head larger than this is not an answer to CONNECT. */
const MAX_HEAD = 16 * 1024;

/** Opens a TCP (or, for https:// proxies, TLS) connection to the proxy. */
export function openProxySocket(
  proxy: ProxyTarget,
  signal: AbortSignal,
  proxyTls?: tls.ConnectionOptions,
): Promise<net.Socket | tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock: net.Socket | tls.TLSSocket =
      proxy.kind === 'https'
        ? tls.connect({
            ...proxyTls,
            host: proxy.host,
            port: proxy.port,
            ...(net.isIP(proxy.host) ? {} : { servername: proxy.host }),
            ALPNProtocols: ['http/1.1'],
          })
        : net.connect({ host: proxy.host, port: proxy.port });
    const ready = proxy.kind === 'https' ? 'secureConnect' : 'connect';
    const cleanup = () => {
      sock.removeListener(ready, onReady);
      sock.removeListener('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onReady = () => {
      cleanup();
      sock.setNoDelay(true);
      sock.setKeepAlive(true, 60_000);
      resolve(sock);
    };
    const onError = (err: Error) => {
      cleanup();
      sock.destroy();
      reject(err);
    };
    const onAbort = () => {
      cleanup();
      sock.destroy();
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    sock.once(ready, onReady);
    sock.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `host:port` as a CONNECT request target (IPv6 literals in brackets). */
export function authority(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * Sends `CONNECT host:port` on an open proxy socket and resolves with the same socket once the
 * proxy answered 2xx; the socket then carries raw bytes to the target.
 */
export function httpConnect(
  sock: Duplex,
  proxy: ProxyTarget,
  host: string,
  port: number,
  signal: AbortSignal,
): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const target = authority(host, port);
    let head: Buffer = Buffer.alloc(0);
    let settled = false;
    const cleanup = () => {
      settled = true;
      sock.removeListener('data', onData);
      sock.removeListener('end', onClose);
      sock.removeListener('close', onClose);
      sock.removeListener('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      if (settled) return;
      cleanup();
      sock.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_HEAD) {
          fail(egressError('ERR_EGRESS_PROXY_PROTOCOL', `proxy sent an oversized answer to CONNECT ${target}`));
        }
        return;
      }
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!m) {
        fail(egressError('ERR_EGRESS_PROXY_PROTOCOL', `proxy sent an invalid answer to CONNECT ${target}`));
        return;
      }
      const status = Number(m[1]);
      if (status < 200 || status > 299) {
        const reason = printable(m[2]) || STATUS_CODES[status] || '';
        fail(egressError('ERR_EGRESS_PROXY_STATUS', `${status} ${reason}`.trim(), { statusCode: status }));
        return;
      }
      cleanup();
      // Stop the flow our 'data' listener started; the next reader (TLS or undici) resumes it.
      sock.pause();
      const rest = head.subarray(end + 4);
      if (rest.length) sock.unshift(rest);
      resolve(sock);
    };
    const onClose = () =>
      fail(egressError('ECONNRESET', `proxy closed the connection without answering CONNECT ${target}`));
    const onError = (err: Error) => fail(err);
    const onAbort = () => fail(signal.reason as Error);
    if (signal.aborted) return onAbort();
    sock.on('data', onData);
    sock.once('end', onClose);
    sock.once('close', onClose);
    sock.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`];
    if (proxy.username !== undefined || proxy.password !== undefined) {
      lines.push(`Proxy-Authorization: ${basicAuth(proxy.username ?? '', proxy.password ?? '')}`);
    }
    sock.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

/** A reason phrase is proxy-controlled text: keep it short and printable for our messages. */
function printable(s: string | undefined): string {
  return (s ?? '').replace(/[^\x20-\x7e]/g, '').slice(0, 100).trim();
}
