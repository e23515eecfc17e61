// Peer: http-proxy 1.18 with a keep-alive agent (its default sends `Connection: close` and
// opens two TCP connections per request, which no one should benchmark). Strips `/api` and
// injects the same upstream Authorization header as the relay route does.
import http from 'node:http';
import httpProxy from 'http-proxy';

const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256 }); // maxSockets: Infinity
const proxy = httpProxy.createProxyServer({ target: process.env.UPSTREAM, agent });
proxy.on('proxyReq', (proxyReq) => proxyReq.setHeader('authorization', process.env.UPSTREAM_AUTH));
proxy.on('error', (_err, _req, res) => {
  if (res && 'writeHead' in res && !res.headersSent) res.writeHead(502);
  res?.end?.();
});
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.url?.startsWith('/api/')) req.url = req.url.slice(4);
  proxy.web(req, res);
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`READY ${JSON.stringify({ port: server.address().port })}\n`);
});
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
