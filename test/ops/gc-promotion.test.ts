/**
 * Regression test for a GC pathology measured in the bench (docs/benchmarks.md, "The Set that
 * promoted every exchange"): once a full GC ran while requests were in flight, the JS Set of
 * in-flight exchanges had its table in the old generation, and from then on every exchange was
 * promoted by the young-generation GC: about 2.5 MB per scavenge instead of about 0.1 MB, which
 * cost 15-25 % CPU per request. The relay runs as a child process under `--trace-gc-nvp`; a
 * full GC is forced halfway through a concurrent load; the test reads the bytes each later
 * scavenge promoted. It measures bytes, not time, so a slow machine does not change the result.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Sends `n` GETs (or POSTs of `body`) over `conns` keep-alive connections, all kept busy. */
async function load(pool: Pool, url: string, n: number, conns: number, body?: string): Promise<void> {
  let left = n;
  let seq = 0;
  const worker = async () => {
    while (left-- > 0) {
      const r = await pool.request(body === undefined ? { method: 'GET', path: url } : { method: 'POST', path: url, body: body.replace('@N@', String(seq++)), headers: { 'content-type': 'application/json' } });
      await r.body.dump();
      expect(r.statusCode).toBe(200);
    }
  };
  await Promise.all(Array.from({ length: conns }, worker));
}

/** Average bytes each scavenge promoted under a load of `body` POSTs (GETs when undefined), after a full GC forced mid-load. */
async function promotedPerScavenge(body: string | undefined, { cache = false } = {}): Promise<number> {
  // A 2 KB answer, like an embeddings call (the fake upstream answers once the body is in).
  const answer = JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: Array.from({ length: 100 }, (_, i) => Math.sin(i)) }] });
  const upstream: FakeUpstream = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body === undefined ? '{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"}}]}' : answer);
  });
  cleanups.push(() => upstream.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-gc-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const cfg = path.join(dir, 'relay.yaml');
  writeFileSync(cfg, `server:\n  host: 127.0.0.1\n  port: 0\nlog:\n  level: info\n  format: json\nroutes:\n  - name: api\n    prefix: /api\n    upstream: ${upstream.url}\n    auth: none\n${cache ? '    cache:\n      paths: ["/v1/embeddings"]\n      methods: [POST]\n      ttl: 1h\n' : ''}`);

  const relay = await startCli(['serve', '--config', cfg], {
    nodeArgs: ['--expose-gc', '--trace-gc', '--trace-gc-nvp', '--import', 'data:text/javascript,process.on("SIGUSR2",()=>{globalThis.gc();console.log("FORCED-FULL-GC")})'],
  });
  cleanups.push(() => {
    relay.child.kill('SIGKILL');
  });
  const port = (await relay.waitFor(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/, 10_000))[1];
  const base = `http://127.0.0.1:${port}`;
  const conns = body === undefined ? 20 : 50;
  const pool = new Pool(base, { connections: conns });
  cleanups.push(() => pool.destroy());
  const url = body === undefined ? '/api/v1/chat' : '/api/v1/embeddings';

  await load(pool, url, 3000, conns, body);
  // The full GC lands while requests are in flight: that is what used to flip the relay.
  const during = load(pool, url, 4000, conns, body);
  await new Promise((r) => setTimeout(r, 50));
  relay.child.kill('SIGUSR2');
  await during;
  await relay.waitFor(/FORCED-FULL-GC/, 10_000);
  const mark = relay.stdout().lastIndexOf('FORCED-FULL-GC');
  await load(pool, url, 15_000, conns, body);

  const promoted = [...relay.stdout().slice(mark).matchAll(/gc=s .*?promoted=(\d+)/g)].map((m) => Number(m[1]));
  // The first scavenges after a full GC may promote what was in flight: judge the rest.
  const later = promoted.slice(2);
  expect(later.length).toBeGreaterThanOrEqual(5);
  return later.reduce((a, b) => a + b, 0) / later.length;
}

describe('young-generation promotion under load', () => {
  it('stays low after a full GC during load', { timeout: 60_000 }, async () => {
    // Healthy: ~0.1 MB per scavenge; the pathology: ~2.5 MB.
    expect(await promotedPerScavenge(undefined)).toBeLessThan(1024 * 1024);
  });

  // Issue #19: POSTs whose bodies stream to undici live about as long as the gap between two
  // scavenges, so V8 pretenured the exchange's objects and every dead exchange in the old
  // generation kept its young objects alive until the next mark-compact (3.1 MB promoted per
  // scavenge in the bench). The relay switches allocation-site pretenuring off (src/cli/heap.ts).
  it('stays low for POSTs streamed upstream (allocation-site pretenuring off)', { timeout: 60_000 }, async () => {
    const body = JSON.stringify({ model: 'text-embedding-3-small', input: 'The quick brown fox jumps over the lazy dog.' });
    // With AI_RELAY_HEAP_PRETENURING=1 (V8's default) this measured 3.5 MB; now about 0.25 MB.
    expect(await promotedPerScavenge(body)).toBeLessThan(1024 * 1024);
  });

  // Issue #17: every cache miss sets and deletes a flight. In a Map that churn left dead
  // old-generation tables pointing at finished flights (recorder, exchange, chunks), and every
  // miss was promoted (2.4 MB per scavenge). Flights live in a ChurnMap (src/util/churn-map.ts).
  it('stays low for cache misses (a unique body each, every answer stored)', { timeout: 60_000 }, async () => {
    const body = JSON.stringify({ model: 'text-embedding-3-small', input: 'The quick brown fox, take @N@.' });
    expect(await promotedPerScavenge(body, { cache: true })).toBeLessThan(1024 * 1024);
  });
});
