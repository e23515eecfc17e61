/**
 * Absolute-form HTTP requests (`GET http://host/path HTTP/1.1`), the way clients use a proxy for
 * plain-http URLs: the same checks as CONNECT, then the request is re-sent with node:http over a
 * socket dialled to the checked address. Hop-by-hop headers (and every header `Connection`
 * names) and Proxy-Authorization never travel on.
 */
import http from 'node:http';
import { formatTarget, normalizeHost } from './allow.js';
import { dial, resolveTarget, TargetRefused } from './dial.js';
import { DIAL_TIMEOUT_MS, type Outcome, type ProxyContext, type TunnelRecord } from './context.js';
import { PROXY_AUTHENTICATE } from './connect.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export function stripHopByHop(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || named.has(k)) continue;
    out[k] = v;
  }
  return out;
}

export function handleAbsolute(ctx: ProxyContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  const startedAt = Date.now();
  const rec: TunnelRecord = {
    kind: 'http',
    client: req.socket.remoteAddress ?? '',
    bytesUp: 0,
    bytesDown: 0,
    outcome: 'ok',
    status: 0,
  };
  const refuse = (status: number, outcome: Outcome, text: string, headers: Record<string, string> = {}) => {
    rec.status = status;
    rec.outcome = outcome;
    if (outcome !== 'auth_required') rec.error = text;
    req.resume();
    if (!res.headersSent) {
      res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
      res.end(`ai-relay forward proxy: ${text}\n`);
    } else {
      res.destroy();
    }
  };
  // The one log line per request, whatever ended it.
  res.on('close', () => {
    if (rec.outcome === 'ok' && !res.writableFinished) {
      rec.outcome = ctx.closing.signal.aborted ? 'shutdown' : 'error';
      rec.error = 'connection closed before the response was complete';
    }
    ctx.logTunnel(rec, startedAt);
  });

  const rawUrl = req.url ?? '';
  if (!/^http:\/\//i.test(rawUrl)) {
    return refuse(400, 'bad_request', /^https:\/\//i.test(rawUrl) ? 'use CONNECT for https:// targets' : 'this is a forward proxy: send absolute-form requests or CONNECT');
  }
  const auth = ctx.auth(req.headers['proxy-authorization']);
  if (auth.user !== undefined) rec.user = auth.user;
  if (!auth.ok) return refuse(407, 'auth_required', 'proxy authentication required', { 'proxy-authenticate': PROXY_AUTHENTICATE });
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return refuse(400, 'bad_request', 'invalid URL');
  }
  const target = { host: normalizeHost(url.hostname), port: Number(url.port || 80) };
  rec.target = formatTarget(target);
  if (!ctx.allow(target)) return refuse(403, 'not_allowed', `${rec.target} is not in forwardProxy.allow`);

  resolveTarget(target.host, ctx.cfg.denyPrivateNetworks, ctx.lookup)
    .then((addresses) => dial(addresses, target.port, DIAL_TIMEOUT_MS, ctx.closing.signal))
    .then(
      (socket) => {
        if (res.closed || req.socket.destroyed) {
          socket.destroy();
          return;
        }
        const headers = stripHopByHop(req.headers);
        headers.host = url.host;
        const up = http.request({
          createConnection: () => socket,
          method: req.method,
          path: `${url.pathname}${url.search}`,
          headers,
          setHost: false,
        });
        if (ctx.cfg.idleTimeout > 0) up.setTimeout(ctx.cfg.idleTimeout, () => up.destroy(Object.assign(new Error('idle timeout'), { code: 'IDLE' })));
        req.on('data', (c: Buffer) => (rec.bytesUp += c.length));
        req.pipe(up);
        res.on('close', () => {
          if (!res.writableFinished) up.destroy();
        });
        up.on('response', (ures) => {
          rec.status = ures.statusCode ?? 502;
          res.writeHead(rec.status, stripHopByHop(ures.headers));
          ures.on('data', (c: Buffer) => (rec.bytesDown += c.length));
          ures.pipe(res);
          ures.on('error', () => res.destroy());
        });
        up.on('error', (err: Error & { code?: string }) => {
          if (err.code === 'IDLE') return refuse(504, 'idle_timeout', `${rec.target}: no bytes for ${ctx.cfg.idleTimeout} ms`);
          refuse(502, 'error', `${rec.target}: ${err.code ?? err.message}`);
        });
      },
      (err: Error & { code?: string }) => {
        if (err instanceof TargetRefused) return refuse(403, 'private_address', `${rec.target}: ${err.message}`);
        if (err.code === 'ETIMEDOUT') return refuse(504, 'dial_timeout', `${rec.target}: ${err.message}`);
        if (err.code === 'ECONNABORTED') return refuse(503, 'shutdown', 'forward proxy shutting down');
        return refuse(502, 'dial_failed', `${rec.target}: ${err.code ?? err.message}`);
      },
    );
}
