// The fake upstream every target proxies to (run as its own process so its CPU is never
// counted as the proxy's). node:http on 127.0.0.1, keep-alive. Paths may carry an `/api`
// prefix so "direct" is hit with exactly the URLs the proxies get.
//   GET  /v1/small            166-byte chat-completion JSON
//   POST /v1/upload           reads and discards the body, answers {"bytes":N}
//   GET  /v1/sse?n=64&ms=20   n SSE events `ms` apart; each carries the send time on the
//                             monotonic clock (process.hrtime, shared by all processes)
//   GET  /v1/image            JSON with a base64 PNG (file given in BENCH_IMAGE_JSON)
//   POST /v1/chat/completions reads the body, answers a chat completion with `usage`
//                             (budgets scenario); with `"stream": true` in the body an OpenAI
//                             chat stream instead: ?n=64&ms=20 chunks, each stamped like
//                             /v1/sse, then the usage chunk when the body asked for it
//                             (`stream_options.include_usage`) and `data: [DONE]`
//   POST /v1/embeddings       reads the body, answers a 2 KB embeddings JSON with `usage`
//                             (cache scenario)
//   GET  /health              {"status":"ok"}
import http from 'node:http';
import { readFileSync } from 'node:fs';

const SMALL = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1700000000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the bench upstream.' }, finish_reason: 'stop' }],
  }),
);
const CHAT = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1700000000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the bench upstream.' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 },
  }),
);
// An embeddings answer of 2 KB (a short vector, as JSON numbers), like a small real one.
const EMBEDDING = (() => {
  const doc = { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [] }], model: 'text-embedding-3-small', usage: { prompt_tokens: 8, total_tokens: 8 } };
  for (let i = 0; JSON.stringify(doc).length < 2048 - 24; i++) doc.data[0].embedding.push(Math.round(Math.sin(i + 1) * 1e6) / 1e6);
  return Buffer.from(JSON.stringify(doc));
})();
const HEALTH = Buffer.from('{"status":"ok"}');
const IMAGE = process.env.BENCH_IMAGE_JSON ? readFileSync(process.env.BENCH_IMAGE_JSON) : null;

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

function json(res, body) {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

/**
 * An event stream of `n` events (`?n=`) `ms` apart (`?ms=`), each stamped with its send time by
 * `event(i)`; `last(n)` writes the end (default: just end). The first event goes out with the
 * headers' flush: time to first event = the proxy's cost.
 */
function paced(res, url, event, last = () => res.end()) {
  const n = Math.min(100_000, Number(url.searchParams.get('n') ?? 64));
  const ms = Math.max(1, Number(url.searchParams.get('ms') ?? 20));
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let i = 0;
  let timer;
  const send = () => {
    res.write(event(i));
    i += 1;
    if (i >= n) {
      clearInterval(timer);
      last(n);
    }
  };
  send();
  if (i < n) timer = setInterval(send, ms);
  res.on('close', () => clearInterval(timer));
}

function sse(req, res, url) {
  paced(res, url, (i) => `data: {"i":${i},"t":${nowUs()}}\n\n`);
}

/** An OpenAI chat-completion stream: n chunks `ms` apart, each stamped with its send time. */
function chatStream(res, url, usage) {
  paced(
    res,
    url,
    (i) => `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"w${i} "},"finish_reason":null}],"t":${nowUs()}}\n\n`,
    (n) => {
      if (usage) res.write(`data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":${n},"total_tokens":${12 + n}}}\n\n`);
      res.end('data: [DONE]\n\n');
    },
  );
}

const server = http.createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname.startsWith('/api/') ? url.pathname.slice(4) : url.pathname;
  if (path === '/v1/small') return json(res, SMALL);
  if (path === '/health') return json(res, HEALTH);
  if (path === '/v1/sse') return sse(req, res, url);
  if (path === '/v1/image' && IMAGE) return json(res, IMAGE);
  if (path === '/v1/chat/completions') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      // A cheap look instead of JSON.parse: the upstream's own cost stays small and equal for all.
      if (!/"stream"\s*:\s*true/.test(text)) return json(res, CHAT);
      return chatStream(res, url, /"include_usage"\s*:\s*true/.test(text));
    });
    return undefined;
  }
  if (path === '/v1/embeddings') {
    req.resume();
    req.on('end', () => json(res, EMBEDDING));
    return undefined;
  }
  if (path === '/v1/upload') {
    let bytes = 0;
    req.on('data', (c) => (bytes += c.length));
    req.on('end', () => json(res, Buffer.from(`{"bytes":${bytes}}`)));
    return undefined;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":"not found"}');
  return undefined;
});
server.maxConnections = 100_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`READY ${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
