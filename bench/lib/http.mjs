// Tiny HTTP helpers for the harness: one-off requests with no connection reuse, free ports,
// and waiting for a server to answer.
import http from 'node:http';
import net from 'node:net';
import { sleep } from './stats.mjs';

export function request(url, { method = 'GET', headers = {}, body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A port that was free a moment ago (for programs that cannot report the port they bound). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Polls `url` until it answers 200. Returns ms from `since` (a performance.now() value) to
 * that answer; throws after timeoutMs. `everyMs` is small so cold-start figures are tight.
 */
export async function waitFor200(url, { since = performance.now(), timeoutMs = 15_000, everyMs = 2, headers = {}, isAlive } = {}) {
  const deadline = since + timeoutMs;
  let lastErr;
  while (performance.now() < deadline) {
    if (isAlive && !isAlive()) throw new Error(`process exited before ${url} answered`);
    try {
      const r = await request(url, { headers, timeoutMs: 2000 });
      if (r.status === 200) return performance.now() - since;
      lastErr = new Error(`status ${r.status}: ${r.body.toString('utf8', 0, 200)}`);
    } catch (e) {
      lastErr = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${lastErr?.message ?? 'no answer'})`);
}
