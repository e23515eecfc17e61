// SSE load client, run as its own process (so 5,000 sockets never share an event loop with
// the harness). Opens `streams` SSE requests and measures, on the monotonic clock that the
// upstream stamps into every event (process.hrtime is CLOCK_MONOTONIC, shared by processes):
//   - time to first event: request start → first `data:` line;
//   - event delay: arrival − upstream send time, for every later event.
// The same client measures "direct" and every proxy, so what it adds itself cancels out.
// Usage: node sse-client.mjs '{"url":...,"streams":N,"batch":B,"windowMs":W,"headers":{}}'
// Prints `OPEN {...}` once every stream has its first event and `DONE {...}` at the end.
import http from 'node:http';
import { percentile } from './stats.mjs';

const opts = JSON.parse(process.argv[2]);
const { url, streams, batch = 250, windowMs = 0, headers = {}, timeoutMs = 120_000, method = 'GET', body } = opts;
// POST streams (OpenAI chat): `body` is sent as JSON; `@N@` in it becomes a number unique to the
// stream (and to this client run), so every stream is its own request (a cache miss, no flight).
const nonce = `${process.pid}-${Date.now()}`;
let seq = 0;
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

const ttfe = [];
const delays = [];
let measuring = windowMs === 0; // 64-event mode measures everything; open-streams mode only its window
let errors = 0;
let complete = 0;
const reqs = [];
const t0 = nowUs();

function open(counted = true) {
  return new Promise((resolve) => {
    const started = nowUs();
    let first = true;
    let buf = '';
    const payload = body === undefined ? undefined : Buffer.from(body.replaceAll('@N@', `${nonce}-${seq++}`));
    const req = http.request(url, {
      method,
      headers: { accept: 'text/event-stream', ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
      agent: false,
    }, (res) => {
      if (res.statusCode !== 200) {
        if (counted) errors += 1;
        res.resume();
        resolve(null);
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const at = nowUs();
        buf += chunk;
        let idx;
        while ((idx = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          const m = /"t":(\d+)/.exec(ev);
          if (!m) continue;
          if (first) {
            first = false;
            if (counted) ttfe.push((at - started) / 1000);
            resolve(req);
          } else if (measuring && counted) {
            delays.push((at - Number(m[1])) / 1000);
          }
        }
      });
      res.on('end', () => { if (counted) complete += 1; });
      res.on('error', () => {});
    });
    req.on('error', () => { if (counted) errors += 1; resolve(null); });
    req.end(payload);
    if (counted) reqs.push(req);
  });
}

const hard = setTimeout(() => { process.stdout.write(`DONE ${JSON.stringify({ error: 'timeout' })}\n`); process.exit(1); }, timeoutMs);

// Warm-up: the first request of a fresh process loads and compiles the HTTP client; keep
// that out of the figures.
(await open(false))?.destroy();

let opened = 0;
for (let i = 0; i < streams; i += batch) {
  const got = await Promise.all(Array.from({ length: Math.min(batch, streams - i) }, open));
  opened += got.filter(Boolean).length;
}
const openMs = (nowUs() - t0) / 1000;
process.stdout.write(`OPEN ${JSON.stringify({ opened, openMs })}\n`);

if (windowMs > 0) {
  measuring = true;
  await new Promise((r) => setTimeout(r, windowMs));
  measuring = false;
  for (const r of reqs) r.destroy();
} else {
  // 64-event mode: wait until every stream has ended.
  while (complete + errors < streams) await new Promise((r) => setTimeout(r, 20));
}
clearTimeout(hard);
const summary = {
  streams,
  opened,
  errors,
  openMs,
  events: delays.length,
  ttfe_p50_ms: percentile(ttfe, 50),
  ttfe_p99_ms: percentile(ttfe, 99),
  delay_p50_ms: percentile(delays, 50),
  delay_p99_ms: percentile(delays, 99),
  delay_max_ms: delays.length ? Math.max(...delays) : null,
};
process.stdout.write(`DONE ${JSON.stringify(summary)}\n`);
process.exit(0);
