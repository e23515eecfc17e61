#!/usr/bin/env node
// Micro-benchmark of what the dashboard adds to each request while it is on: the dashboard
// path check in front of routing (dashboardTarget) and DashboardFeed.record() from
// onExchangeDone. (Off, neither is installed: the handler tests one undefined property.)
// Node 20 cannot run TypeScript, so the two modules are bundled with esbuild first.
//
// Usage: node bench/dashboard-feed.mjs [calls=1000000]
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.argv[2] ?? 1_000_000);
const tmp = mkdtempSync(path.join(root, 'node_modules', '.cache-bench-dashboard-'));
try {
  const outfile = path.join(tmp, 'feed.mjs');
  await build({
    stdin: { contents: "export { DashboardFeed } from './src/dashboard/feed.ts';\nexport { dashboardTarget } from './src/dashboard/mount.ts';\nexport { buildView } from './src/dashboard/view.ts';\n", resolveDir: root, loader: 'ts' },
    bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'error',
  });
  const { DashboardFeed, dashboardTarget, buildView } = await import(pathToFileURL(outfile).href);

  // A realistic mix: 8 routes, 40 clients, mostly 200s, some 4xx/5xx, some usage and cache results.
  const routes = Array.from({ length: 8 }, (_, i) => ({ name: `route-${i}` }));
  const exchanges = Array.from({ length: 1024 }, (_, i) => {
    const start = performance.now();
    return {
      route: i % 50 === 0 ? undefined : routes[i % routes.length],
      status: i % 20 === 0 ? 429 : i % 33 === 0 ? 502 : 200,
      errorType: i % 20 === 0 ? 'rate_limited' : i % 33 === 0 ? 'upstream_unreachable' : undefined,
      outcome: i % 33 === 0 ? 'upstream http://127.0.0.1:1 refused the connection' : undefined,
      method: i % 3 ? 'POST' : 'GET',
      path: `/route-${i % 8}/v1/chat/completions`,
      query: i % 2 ? '?alt=sse' : '',
      url: `/route-${i % 8}/v1/chat/completions?alt=sse`,
      start,
      upstreamHeadersAt: start + 3,
      client: `client-${i % 40}`,
      ip: '10.0.0.1',
      user: i % 4 === 0 ? `user-${i % 300}` : undefined,
      usage: i % 2 ? { input: 120, output: 340, total: 460 } : undefined,
      cache: i % 5 === 0 ? 'hit' : undefined,
    };
  });
  const bases = ['/r', '/'];

  const feed = new DashboardFeed();
  const run = (n) => {
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const x = exchanges[i & 1023];
      if (dashboardTarget(x.url, bases, '/_relay')) hits++;
      feed.record(x);
    }
    return hits;
  };
  run(200_000); // warm up (JIT, every series allocated)
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  run(N);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const perCallUs = ((cpu.user + cpu.system) / N).toFixed(3);
  console.log(`dashboard per request (path check + record): ${perCallUs} µs CPU, ${((wall * 1000) / N).toFixed(3)} µs wall, over ${N} calls`);

  // What an open page adds: one update per second carrying up to 2,000 new tail entries (the
  // worst case: a relay past 2,000 requests/s), built and serialised once for every open page.
  const src = {
    version: 'bench', startedAt: Date.now(), phase: () => 'ready', inFlight: () => 3, openStreams: () => 1,
    table: () => ({ routes: [], redactor: { size: 1, scrub: (t) => (t.includes('sk-') ? t.replaceAll('sk-', '[redacted]') : t) }, config: { routes: [] } }),
  };
  const updates = 200;
  const u0 = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < updates; i++) bytes += JSON.stringify(buildView(feed, src, 'update', feed.tail.lastSeq - 2000)).length;
  const u = process.cpuUsage(u0);
  const perUpdateMs = (u.user + u.system) / 1000 / updates;
  console.log(`one full update (2,000 tail entries, ${(bytes / updates / 1024).toFixed(0)} KB): ${perUpdateMs.toFixed(2)} ms CPU; at most once a second => ${(perUpdateMs / 2).toFixed(2)} µs per request at 2,000 req/s, less above (the update is capped)`);
  console.log(`heap after: ${(process.memoryUsage().heapUsed / 1048576).toFixed(1)} MB (tail ${feed.tail.capacity} entries, ${feed.routes.size} route series, ${feed.principals.size} caller series)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
