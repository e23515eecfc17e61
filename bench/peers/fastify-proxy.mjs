// Peer: fastify 5 + @fastify/http-proxy (reply-from on an undici pool), logger off (its
// default). Injects the same upstream Authorization header as the relay route does.
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const upstream = process.env.UPSTREAM;
const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
await app.register(proxy, {
  upstream,
  prefix: '/api',
  // A high connection cap: 5,000 open SSE streams must not queue behind a 128-socket pool.
  undici: { connections: 16_384, pipelining: 1, keepAliveTimeout: 60_000 },
  replyOptions: {
    rewriteRequestHeaders: (_req, headers) => ({ ...headers, authorization: process.env.UPSTREAM_AUTH }),
  },
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`READY ${JSON.stringify({ port: app.server.address().port })}\n`);
const stop = () => app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
