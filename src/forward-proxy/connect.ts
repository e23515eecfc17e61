/**
 * `CONNECT host:port`: check the user, the allow-list and (after resolving) the
 * addresses, then answer 200 and pipe raw bytes both ways until either side closes or the tunnel
 * has been idle for `idleTimeout`. Refusals are written as small HTTP answers on the raw socket.
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { formatTarget, parseAuthority } from './allow.js';
import { dial, resolveTarget, TargetRefused } from './dial.js';
import { DIAL_TIMEOUT_MS, type Outcome, type ProxyContext, type TunnelRecord } from './context.js';

export const PROXY_AUTHENTICATE = 'Basic realm="ai-relay"';

export function handleConnect(ctx: ProxyContext, req: http.IncomingMessage, client: Duplex, head: Buffer): void {
  const startedAt = Date.now();
  const rec: TunnelRecord = {
    kind: 'connect',
    client: req.socket.remoteAddress ?? '',
    bytesUp: 0,
    bytesDown: 0,
    outcome: 'ok',
    status: 200,
  };
  client.on('error', () => {}); // a client that vanishes mid-refusal must not crash the process

  const refuse = (status: number, outcome: Outcome, text: string, headers: string[] = []) => {
    rec.status = status;
    rec.outcome = outcome;
    if (outcome !== 'auth_required') rec.error = text;
    const body = `ai-relay forward proxy: ${text}\n`;
    client.end(
      [
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
        ...headers,
        'Content-Type: text/plain; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
    ctx.logTunnel(rec, startedAt);
  };

  const auth = ctx.auth(req.headers['proxy-authorization']);
  if (auth.user !== undefined) rec.user = auth.user;
  if (!auth.ok) return refuse(407, 'auth_required', 'proxy authentication required', [`Proxy-Authenticate: ${PROXY_AUTHENTICATE}`]);
  const target = parseAuthority(req.url ?? '');
  if (!target) return refuse(400, 'bad_request', 'CONNECT needs host:port');
  rec.target = formatTarget(target);
  if (!ctx.allow(target)) return refuse(403, 'not_allowed', `${rec.target} is not in forwardProxy.allow`);

  ctx.live.add(client as net.Socket);
  const release = () => {
    ctx.live.delete(client as net.Socket);
  };

  resolveTarget(target.host, ctx.cfg.denyPrivateNetworks, ctx.lookup)
    .then((addresses) => dial(addresses, target.port, DIAL_TIMEOUT_MS, ctx.closing.signal))
    .then(
      (upstream) => {
        if (client.destroyed) {
          upstream.destroy();
          release();
          rec.outcome = 'error';
          rec.error = 'client went away';
          ctx.logTunnel(rec, startedAt);
          return;
        }
        pipeTunnel(ctx, rec, startedAt, client, upstream, head, release);
      },
      (err: Error & { code?: string }) => {
        release();
        if (client.destroyed) return;
        if (err instanceof TargetRefused) return refuse(403, 'private_address', `${rec.target}: ${err.message}`);
        if (err.code === 'ETIMEDOUT') return refuse(504, 'dial_timeout', `${rec.target}: ${err.message}`);
        if (err.code === 'ECONNABORTED') return refuse(503, 'shutdown', 'forward proxy shutting down');
        return refuse(502, 'dial_failed', `${rec.target}: ${err.code ?? err.message}`);
      },
    );
}

function pipeTunnel(
  ctx: ProxyContext,
  rec: TunnelRecord,
  startedAt: number,
  client: Duplex,
  upstream: net.Socket,
  head: Buffer,
  release: () => void,
): void {
  ctx.live.add(upstream);
  let open = 2;
  let logged = false;
  const finish = () => {
    if (logged) return;
    logged = true;
    ctx.live.delete(upstream);
    release();
    rec.bytesUp = upstream.bytesWritten;
    rec.bytesDown = upstream.bytesRead;
    if (ctx.closing.signal.aborted && rec.outcome === 'ok') rec.outcome = 'shutdown';
    ctx.logTunnel(rec, startedAt);
  };
  const onClose = () => {
    if (--open === 0) finish();
  };
  const onError = (err: Error & { code?: string }) => {
    if (rec.outcome === 'ok' && !ctx.closing.signal.aborted) {
      rec.outcome = 'error';
      rec.error = err.code ?? err.message;
    }
    client.destroy();
    upstream.destroy();
  };
  const onIdle = () => {
    if (rec.outcome === 'ok') rec.outcome = 'idle_timeout';
    client.destroy();
    upstream.destroy();
  };
  client.on('close', onClose);
  upstream.on('close', onClose);
  client.on('error', onError);
  upstream.on('error', onError);
  // A half-close (FIN) is passed on by pipe(). A client that is gone takes the upstream down; an
  // upstream that is gone only ends the client, so bytes still queued for the client arrive.
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroyed || client.end());
  if (ctx.cfg.idleTimeout > 0) {
    (client as net.Socket).setTimeout?.(ctx.cfg.idleTimeout, onIdle);
    upstream.setTimeout(ctx.cfg.idleTimeout, onIdle);
  }
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
}
