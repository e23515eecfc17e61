// Reference, not a product: the least a node:http + undici proxy can do. One undici Pool,
// `dispatch` with a hand-written handler (the lowest-overhead API, performance.md §6),
// hop-by-hop headers dropped both ways, the same Authorization injection, backpressure, 502 on
// errors. No auth, CORS, request ids, access log, timeouts or path checks. It shows the floor
// ai-relay (same server, same client library) is measured against.
import http from 'node:http';
import { Pool } from 'undici';

const upstream = process.env.UPSTREAM;
const auth = process.env.UPSTREAM_AUTH;
const pool = new Pool(upstream, { connections: 16_384, pipelining: 1, keepAliveTimeout: 60_000 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);
const strip = (h) => {
  const o = {};
  for (const k in h) if (!HOP.has(k)) o[k] = h[k];
  return o;
};

const server = http.createServer((req, res) => {
  const headers = strip(req.headers);
  headers.authorization = auth;
  const bodiless = req.method === 'GET' || req.method === 'HEAD';
  pool.dispatch({ path: req.url.startsWith('/api/') ? req.url.slice(4) : req.url, method: req.method, headers, body: bodiless ? null : req }, {
    onRequestStart(controller) {
      res.once('close', () => !res.writableFinished && controller.abort(new Error('client gone')));
    },
    onResponseStart(_c, status, h) {
      res.writeHead(status, strip(h));
      if (String(h['content-type'] ?? '').startsWith('text/event-stream')) res.flushHeaders();
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) {
        c.pause();
        res.once('drain', () => c.resume());
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_c, err) {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err.message }));
      } else res.destroy(err);
    },
  });
});
server.maxConnections = 100_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`READY ${JSON.stringify({ port: server.address().port })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
