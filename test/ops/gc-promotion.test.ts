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

/** Sends `n` GETs over `conns` keep-alive connections, all kept busy. */
async function load(pool: Pool, url: string, n: number, conns: number): Promise<void> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) {
      const r = await pool.request({ method: 'GET', path: url });
      await r.body.dump();
      expect(r.statusCode).toBe(200);
    }
  };
  await Promise.all(Array.from({ length: conns }, worker));
}

describe('young-generation promotion under load', () => {
  it('stays low after a full GC during load', { timeout: 60_000 }, async () => {
    const upstream: FakeUpstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"}}]}');
    });
    cleanups.push(() => upstream.close());
    const dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-gc-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cfg = path.join(dir, 'relay.yaml');
    writeFileSync(cfg, `server:\n  host: 127.0.0.1\n  port: 0\nlog:\n  level: info\n  format: json\nroutes:\n  - name: api\n    prefix: /api\n    upstream: ${upstream.url}\n    auth: none\n`);

    const relay = await startCli(['serve', '--config', cfg], {
      nodeArgs: ['--expose-gc', '--trace-gc', '--trace-gc-nvp', '--import', 'data:text/javascript,process.on("SIGUSR2",()=>{globalThis.gc();console.log("FORCED-FULL-GC")})'],
    });
    cleanups.push(() => {
      relay.child.kill('SIGKILL');
    });
    const port = (await relay.waitFor(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/, 10_000))[1];
    const base = `http://127.0.0.1:${port}`;
    const pool = new Pool(base, { connections: 20 });
    cleanups.push(() => pool.destroy());

    await load(pool, '/api/v1/chat', 3000, 20);
    // The full GC lands while 20 requests are in flight: that is what used to flip the relay.
    const during = load(pool, '/api/v1/chat', 4000, 20);
    await new Promise((r) => setTimeout(r, 50));
    relay.child.kill('SIGUSR2');
    await during;
    await relay.waitFor(/FORCED-FULL-GC/, 10_000);
    const mark = relay.stdout().lastIndexOf('FORCED-FULL-GC');
    await load(pool, '/api/v1/chat', 15_000, 20);

    const promoted = [...relay.stdout().slice(mark).matchAll(/gc=s .*?promoted=(\d+)/g)].map((m) => Number(m[1]));
    // The first scavenges after a full GC may promote what was in flight: judge the rest.
    const later = promoted.slice(2);
    expect(later.length).toBeGreaterThanOrEqual(5);
    const avg = later.reduce((a, b) => a + b, 0) / later.length;
    // Healthy: ~0.1 MB per scavenge; the pathology: ~2.5 MB.
    expect(avg).toBeLessThan(1024 * 1024);
  });
});
