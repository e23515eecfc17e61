#!/usr/bin/env node
// Response cache (§13): what a hit costs next to a relayed answer. One relay process (the CLI, as
// a user runs it) with three ways to the same 166-byte JSON on the bench upstream:
//   relayed        /plain/v1/small  a route without cache
//   miss (refresh) /api/v1/small    cached route, `Cache-Control: no-cache`: upstream call + record + store
//   hit            /api/v1/small    cached route, answered from the memory store
// wrk -t1 -c50, interleaved runs, medians; CPU is the relay process's own.
//
//   node bench/scenarios/cache.mjs [--seconds 5] [--runs 3] [--out bench/results/cache.json]
import { parseArgs } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, relayYaml, startRelay, startUpstream, TOKEN, ORIGIN } from '../lib/targets.mjs';
import { wrkRun } from '../lib/wrk.mjs';
import { median, round } from '../lib/stats.mjs';

const { values: a } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, runs: { type: 'string', default: '3' }, out: { type: 'string' } } });
const seconds = Number(a.seconds);
const runs = Number(a.runs);

export function cacheYaml(upstreamUrl) {
  const base = relayYaml(upstreamUrl);
  // The api route caches /v1/small; a plain route without cache relays the same answer.
  return base.replace('  - name: images', `    cache:
      paths: ["/v1/small"]
      ttl: 1h
  - name: plain
    prefix: /plain
    upstream: ${upstreamUrl}
    auth: [web]
    cors:
      origins: ["${ORIGIN}"]
  - name: images`);
}

const tmp = mkdtempSync(join(tmpdir(), 'ai-relay-cache-bench-'));
const upstream = await startUpstream(tmp);
const relay = await startRelay(tmp, upstream.url, { yaml: cacheYaml(upstream.url) });
const rows = {
  relayed: { path: '/plain/v1/small', cacheControl: '' },
  miss: { path: '/api/v1/small', cacheControl: 'no-cache' },
  hit: { path: '/api/v1/small', cacheControl: '' },
};
const got = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
try {
  // Prime the entry, and check the three paths answer what they should.
  for (const [name, r] of Object.entries(rows)) {
    const res = await fetch(relay.url + r.path, { headers: { 'x-proxy-token': TOKEN, origin: ORIGIN, ...(r.cacheControl ? { 'cache-control': r.cacheControl } : {}) } });
    await res.arrayBuffer();
    const want = name === 'relayed' ? null : name === 'miss' ? 'REFRESH' : 'HIT';
    if (res.status !== 200 || res.headers.get('x-relay-cache') !== want) throw new Error(`${name}: ${res.status} x-relay-cache=${res.headers.get('x-relay-cache')}, want ${want}`);
  }
  for (let rep = 0; rep < runs; rep++) {
    const names = Object.keys(rows);
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + rep) % names.length];
      const r = rows[name];
      if (rep === 0) await wrkRun({ url: relay.url + r.path, connections: 50, seconds: 1, pid: relay.pid, cacheControl: r.cacheControl });
      const m = await wrkRun({ url: relay.url + r.path, connections: 50, seconds, pid: relay.pid, cacheControl: r.cacheControl });
      console.log(`  ${name.padEnd(8)} run ${rep + 1}: ${Math.round(m.rps)} req/s p50 ${m.p50_ms.toFixed(2)} ms p99 ${m.p99_ms.toFixed(2)} ms CPU ${Math.round(m.cpu_us_per_req)} µs/req${m.errors ? ` ERRORS ${m.errors}` : ''} steal ${m.steal_pct.toFixed(0)}%`);
      got[name].push(m);
    }
  }
} finally {
  await relay.stop();
  await upstream.stop();
  rmSync(tmp, { recursive: true, force: true });
}
const summary = Object.fromEntries(
  Object.entries(got).map(([k, rs]) => [k, { rps: round(median(rs.map((r) => r.rps)), 0), p50_ms: round(median(rs.map((r) => r.p50_ms)), 3), p99_ms: round(median(rs.map((r) => r.p99_ms)), 3), cpu_us_per_req: round(median(rs.map((r) => r.cpu_us_per_req)), 1), errors: rs.reduce((s, r) => s + r.errors, 0) }]),
);
const out = a.out ?? join(ROOT, 'bench/results/cache.json');
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), settings: { connections: 50, seconds, runs }, rows: summary }, null, 2) + '\n');
console.log('\n| path | req/s | p50 ms | p99 ms | CPU µs/req |\n|---|---|---|---|---|');
for (const [k, s] of Object.entries(summary)) console.log(`| ${k} | ${s.rps} | ${s.p50_ms} | ${s.p99_ms} | ${s.cpu_us_per_req} |`);
console.log(`\nresults: ${out}`);
