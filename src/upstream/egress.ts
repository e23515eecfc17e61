/**
 * Egress: how a route's upstream connections leave the machine — direct, through the proxy the
 * environment names, an HTTP(S) CONNECT proxy, or SOCKS5/5h. Produces an undici `connect`
 * function; the dispatcher builds one per upstream origin when the route table is compiled and
 * hands `egress.connect` to that origin's Pool.
 *
 * Every proxied connect runs under one deadline (`connectTimeout`) that covers the TCP connect to
 * the proxy, the proxy's answer and the TLS handshake with the upstream through the tunnel, so a
 * dropped, refusing or silent proxy fails the request fast and leaves nothing running. The
 * route's upstream TLS options (extra CA, mTLS, servername, insecure) apply to the handshake
 * inside the tunnel, exactly as they do on a direct connection.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { buildConnector, errors as undiciErrors } from 'undici';
import { parseProxyUrl, type ProxyTarget } from './egress-url.js';
import { resolveEnvProxy, type Env } from './no-proxy.js';
import { openProxySocket, httpConnect } from './egress-http.js';
import { socksConnect } from './egress-socks.js';
import { egressError, viaEgress, type EgressError } from './egress-errors.js';

export { parseProxyUrl, type ProxyTarget } from './egress-url.js';
export { matchesNoProxy, resolveEnvProxy } from './no-proxy.js';
export type { EgressError } from './egress-errors.js';

export interface EgressOptions {
  /** `env` | `none` | proxy URL, from the route or the global `egress`. */
  proxy: string;
  /** Upstream origin, e.g. https://api.openai.com */
  origin: string;
  /** TLS options for the upstream handshake (ca, cert, key, rejectUnauthorized, servername). */
  tls: ConnectionOptions;
  connectTimeout: number;
  env: Record<string, string | undefined>;
  /** TLS options for the connection to an `https://` proxy itself (default: Node's roots). */
  proxyTls?: ConnectionOptions;
}

export interface Egress {
  connect: buildConnector.connector;
  /** Human description without credentials, e.g. "direct" or "http://egress.example:3128". */
  describe: string;
  close(): Promise<void>;
}

/**
 * The proxy URL (credentials included) a route's `egress.proxy` selects for this origin, or
 * 'none' for a direct connection. `check` prints it through `stripCredentials`, or use
 * `describeEgress` for the credential-free form.
 */
export function resolveEgressUrl(proxy: string, origin: string, env: Env): string | 'none' {
  const p = proxy.trim();
  if (p === 'env') return resolveEnvProxy(origin, env);
  if (p === 'none' || p === '') return 'none';
  return p;
}

/** `direct` or the credential-free proxy URL, e.g. `socks5h://host:1080`. */
export function describeEgress(proxy: string, origin: string, env: Env): string {
  const url = resolveEgressUrl(proxy, origin, env);
  return url === 'none' ? 'direct' : parseProxyUrl(url).describe;
}

export function createEgress(opts: EgressOptions): Egress {
  const url = resolveEgressUrl(opts.proxy, opts.origin, opts.env);
  if (url === 'none') {
    const connect = buildConnector({ ...(opts.tls as object), timeout: opts.connectTimeout } as buildConnector.BuildOptions);
    return { connect, describe: 'direct', close: async () => {} };
  }
  return createProxiedEgress(parseProxyUrl(url), opts);
}

function createProxiedEgress(proxy: ProxyTarget, opts: EgressOptions): Egress {
  const { describe } = proxy;
  const pending = new Set<AbortController>();
  let closed = false;

  const connect: buildConnector.connector = (options, callback) => {
    if (closed) {
      callback(egressError('ERR_EGRESS_CLOSED', `via egress ${describe}: egress closed`, { egress: describe }), null);
      return;
    }
    const https = options.protocol === 'https:';
    const host = unbracket(options.hostname);
    const port = Number(options.port) || (https ? 443 : 80);
    const state = { phase: `connecting to the proxy` };
    const ac = new AbortController();
    pending.add(ac);
    const timer = setTimeout(() => {
      const err = new undiciErrors.ConnectTimeoutError(
        `via egress ${describe}: connect timeout after ${opts.connectTimeout} ms (${state.phase})`,
      ) as unknown as EgressError;
      err.egress = describe;
      ac.abort(err);
    }, opts.connectTimeout);

    tunnel(proxy, host, port, ac.signal, state, opts.proxyTls)
      .then((raw): Duplex | Promise<Duplex> => (https ? upstreamTls(raw, host, options.servername, opts.tls, ac.signal, state) : raw))
      .then(
        (sock) => {
          settle();
          callback(null, sock as net.Socket);
        },
        (err: unknown) => {
          settle();
          callback(viaEgress(err, describe), null);
        },
      );

    function settle() {
      clearTimeout(timer);
      pending.delete(ac);
    }
  };

  return {
    connect,
    describe,
    close: async () => {
      closed = true;
      for (const ac of pending) ac.abort(egressError('ERR_EGRESS_CLOSED', `via egress ${describe}: egress closed`, { egress: describe }));
      pending.clear();
    },
  };
}

/** Opens the proxy connection and asks it for a byte stream to host:port. */
async function tunnel(
  proxy: ProxyTarget,
  host: string,
  port: number,
  signal: AbortSignal,
  state: { phase: string },
  proxyTls: ConnectionOptions | undefined,
): Promise<Duplex> {
  const sock = await openProxySocket(proxy, signal, proxyTls);
  if (proxy.kind === 'socks5' || proxy.kind === 'socks5h') {
    state.phase = `SOCKS5 handshake for ${host}:${port}`;
    return socksConnect(sock as net.Socket, proxy, host, port, signal);
  }
  state.phase = `waiting for the proxy to answer CONNECT ${host}:${port}`;
  return httpConnect(sock, proxy, host, port, signal);
}

/** TLS with the upstream inside the tunnel, with the route's TLS options. */
function upstreamTls(
  raw: Duplex,
  host: string,
  requested: string | undefined,
  routeTls: ConnectionOptions,
  signal: AbortSignal,
  state: { phase: string },
): Promise<tls.TLSSocket> {
  state.phase = `TLS handshake with ${host} through the tunnel`;
  // SNI never carries an IP literal (Node warns, servers ignore it); identity is then checked
  // against `host`, as undici's own connector does.
  const sni = routeTls.servername ?? requested ?? (net.isIP(host) ? undefined : host);
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      ...routeTls,
      socket: raw,
      host,
      ...(sni ? { servername: sni } : {}),
      ALPNProtocols: ['http/1.1'],
    });
    const cleanup = () => {
      sock.removeListener('secureConnect', onReady);
      sock.removeListener('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onReady = () => {
      cleanup();
      resolve(sock);
    };
    const onError = (err: Error) => {
      cleanup();
      sock.destroy();
      raw.destroy();
      reject(err);
    };
    const onAbort = () => onError(signal.reason as Error);
    if (signal.aborted) return onAbort();
    sock.once('secureConnect', onReady);
    sock.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function unbracket(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}
