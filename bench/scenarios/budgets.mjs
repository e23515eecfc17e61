#!/usr/bin/env node
// What a budget costs per request: one relay (the npm bin, as users run it) with two routes to
// the same upstream — `/api` without a budget and `/bud` with a token budget in the memory store
// (by client, a limit never reached) — under the same wrk load: POST of a 90-byte chat request
// answered with a JSON chat completion carrying `usage`. Runs are interleaved; medians printed.
// The budgeted route reads and holds the body (≤ 1 MB), asks the store for a hold, reads usage
// from the answer and settles; the plain route still reads usage (usage: auto is the default).
//
//   npm run build && node bench/scenarios/budgets.mjs [--seconds 10] [--runs 3] [--connections 50]
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, TOKEN, ORIGIN, UPSTREAM_AUTH, startUpstream } from '../lib/targets.mjs';
import { start } from '../lib/spawn.mjs';
import { freePort, waitFor200 } from '../lib/http.mjs';
import { wrkRun } from '../lib/wrk.mjs';
import { median, round } from '../lib/stats.mjs';

const { values: a } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, runs: { type: 'string', default: '3' }, connections: { type: 'string', default: '50' } } });
const seconds = Number(a.seconds);
const runs = Number(a.runs);
const connections = Number(a.connections);

function yaml(upstream, port) {
  const route = (name, prefix, extra) => `  - name: ${name}
    prefix: ${prefix}
    upstream: ${upstream}
    auth: [web]
    cors:
      origins: ["${ORIGIN}"]
    headers:
      set:
        Authorization: ${UPSTREAM_AUTH}
${extra}`;
  return `server:
  host: 127.0.0.1
  port: ${port}
log:
  level: info
  format: json
clients:
  web: ${TOKEN}
egress:
  proxy: none
budgets:
  store: memory
routes:
${route('api', '/api', '')}${route('bud', '/bud', '    budget:\n      - { by: client, tokens: 1000G, per: day }\n')}`;
}

const tmp = mkdtempSync(join(tmpdir(), 'ai-relay-bench-budgets-'));
const bodyFile = join(tmp, 'chat.json');
writeFileSync(bodyFile, JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello.' }] }));
const up = await startUpstream(tmp);
const port = await freePort();
const cfg = join(tmp, 'relay.yaml');
writeFileSync(cfg, yaml(up.url, port));
const since = performance.now();
const relay = await start(process.execPath, [join(ROOT, 'bin/ai-relay.js'), 'serve', '--config', cfg], { logFile: join(tmp, 'relay.log'), cwd: tmp });
const base = `http://127.0.0.1:${port}`;
try {
  await waitFor200(`${base}/health`, { since, isAlive: relay.alive });
  const rows = { api: [], bud: [] };
  const run = (prefix, s) => wrkRun({ url: `${base}${prefix}/v1/chat/completions`, connections, seconds: s, pid: relay.pid, method: 'POST', bodyFile, contentType: 'application/json' });
  await run('/api', 2); // warm-up: JIT, pools
  await run('/bud', 2);
  for (let i = 0; i < runs; i++) {
    for (const name of i % 2 ? ['bud', 'api'] : ['api', 'bud']) {
      const r = await run(`/${name}`, seconds);
      if (r.errors) throw new Error(`${name}: ${r.errors} errors (${r.non2xx} non-2xx)`);
      console.log(`  ${name} run ${i + 1}: ${Math.round(r.rps)} req/s p50 ${r.p50_ms.toFixed(2)} ms p99 ${r.p99_ms.toFixed(2)} ms CPU ${Math.round(r.cpu_us_per_req)} µs/req steal ${r.steal_pct.toFixed(0)}%`);
      rows[name].push(r);
    }
  }
  const sum = (rs) => ({ rps: round(median(rs.map((r) => r.rps)), 0), p50_ms: round(median(rs.map((r) => r.p50_ms)), 2), p99_ms: round(median(rs.map((r) => r.p99_ms)), 2), cpu_us: round(median(rs.map((r) => r.cpu_us_per_req)), 1) });
  const api = sum(rows.api);
  const bud = sum(rows.bud);
  console.log(`\n| route (POST chat JSON, c=${connections}, ${seconds}s × ${runs}) | req/s | p50 ms | p99 ms | CPU µs/req |`);
  console.log('|---|---|---|---|---|');
  console.log(`| no budget | ${api.rps} | ${api.p50_ms} | ${api.p99_ms} | ${api.cpu_us} |`);
  console.log(`| token budget, memory store | ${bud.rps} | ${bud.p50_ms} | ${bud.p99_ms} | ${bud.cpu_us} |`);
  console.log(`\nbudget cost: ${round(bud.cpu_us - api.cpu_us, 1)} µs CPU per request, ${round((1 - bud.rps / api.rps) * 100, 1)} % req/s`);
} finally {
  await relay.stop();
  await up.stop();
  rmSync(tmp, { recursive: true, force: true });
}
