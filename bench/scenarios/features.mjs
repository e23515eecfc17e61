// What the relay's features cost per request (issues #16, #17), each next to the same request
// without the feature, in ONE relay process (the CLI, as users run it) so both rows share the
// process, its JIT state, its pools and the machine's mood; runs interleaved, medians, and the
// added figure is the median of the per-repetition differences (the two rows of a repetition run
// back to back).
//
//   jwt           GET /jwt/v1/small: the route admits the shared token and an ES256 JWT client
//                 (key set from a local JWKS server, cached); shared token vs a JWT
//   budgets       POST chat JSON: /api (no budget) vs /bud (tokens budget, memory store)
//   budgetsRedis  the same with `budgets.store: redis://` (a private redis-server), plus the
//                 Redis commands per request from INFO commandstats
//   budgetSse     POST chat stream (64 chunks 20 ms apart): /api vs /bud, where the relay adds
//                 stream_options.include_usage and strips the usage chunk
//   cache         POST embeddings-like body, 2 KB JSON answer: relayed without cache, a hit,
//                 real misses (a unique body per request), a route whose cache.paths do not match
//   cacheSse      POST chat stream, a unique body per stream: /api vs /cache (recorded on a miss)
//   dashboard     GET /api/v1/small on the features relay vs a second relay with the same config
//                 plus server.dashboard, a logged-in page's event stream open (issue #18)
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ORIGIN, TOKEN, UPSTREAM_AUTH, startRelay } from '../lib/targets.mjs';
import { freePort, request } from '../lib/http.mjs';
import { start } from '../lib/spawn.mjs';
import { wrkRun } from '../lib/wrk.mjs';
import { runSseClient, summariseSse } from '../lib/sse-run.mjs';
import { median, round, sleep } from '../lib/stats.mjs';
import { summarise } from './http-load.mjs';

export const FEATURE_SCENARIOS = ['jwt', 'budgets', 'budgetsRedis', 'budgetSse', 'cache', 'cacheSse', 'dashboard'];

const DASHBOARD_TOKEN = 'bench-dashboard-admin-token-7f3a';

const ISSUER = 'https://issuer.bench/';
const AUDIENCE = 'relay-bench';
/** `@N@` becomes a number unique to the request (wrk Lua, sse-client) in the unique-body rows. */
const CHAT_BODY = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: 'Say hello. @N@' }] });
const CHAT_STREAM_BODY = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Say hello. @N@' }] });
const EMBED_BODY = JSON.stringify({ model: 'text-embedding-3-small', input: 'The quick brown fox jumps over the lazy dog. @N@', encoding_format: 'float' });

/** A JWKS server (in the harness process: its CPU is not the relay's) and tokens it signs. */
async function startIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' };
  const body = JSON.stringify({ keys: [jwk] });
  let fetches = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/jwks.json') return res.writeHead(404).end();
    fetches++;
    return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const sign = (claims, key = privateKey) =>
    new SignJWT({ sub: 'user-1', ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'bench-1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime('3h').sign(key);
  const other = await generateKeyPair('ES256');
  return {
    jwksUrl: `http://127.0.0.1:${server.address().port}/jwks.json`,
    token: await sign({}),
    forged: await sign({}, other.privateKey), // same kid and issuer, another key: must be refused
    get fetches() { return fetches; },
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** One relay, every feature on its own route; `/api` is the same route without any of them. */
export function featuresYaml({ upstreamUrl, jwksUrl, budgetsStore = 'memory' }) {
  const route = (name, prefix, extra = '', auth = '[web]') => `  - name: ${name}
    prefix: ${prefix}
    upstream: ${upstreamUrl}
    auth: ${auth}
    cors:
      origins: ["${ORIGIN}"]
    headers:
      set:
        Authorization: ${UPSTREAM_AUTH}
${extra}`;
  return `server:
  host: 127.0.0.1
  port: 8787
log:
  level: info
  format: json
clients:
  web: ${TOKEN}
  site:
    jwt:
      issuer: ${ISSUER}
      jwks: ${jwksUrl}
      algorithms: [ES256]
      audience: ${AUDIENCE}
egress:
  proxy: none
budgets:
  store: ${budgetsStore}
cache:
  store: memory
routes:
${route('api', '/api')}${route('jwt', '/jwt', '', '[web, site]')}${route('bud', '/bud', '    budget:\n      - { by: client, tokens: 1000G, per: day }\n')}${route('cache', '/cache', '    cache:\n      paths: ["/v1/embeddings", "/v1/chat/completions"]\n      methods: [POST]\n      ttl: 1h\n')}${route('cachena', '/cachena', '    cache:\n      paths: ["/v1/models"]\n      methods: [POST]\n      ttl: 1h\n')}`;
}

const H = { 'x-proxy-token': TOKEN, origin: ORIGIN };
const JSON_H = { ...H, 'content-type': 'application/json' };

function expect(cond, what) {
  if (!cond) throw new Error(`features relay: ${what}`);
}

/** Every feature route really does its feature before anything is measured. */
async function sanity(url, issuer, { cache = true } = {}) {
  const jwt = await request(`${url}/jwt/v1/small`, { headers: { ...H, 'x-proxy-token': issuer.token } });
  expect(jwt.status === 200, `a good JWT on /jwt answered ${jwt.status}: ${jwt.body.toString().slice(0, 200)}`);
  const forged = await request(`${url}/jwt/v1/small`, { headers: { ...H, 'x-proxy-token': issuer.forged } });
  expect(forged.status === 401, `a JWT signed by another key answered ${forged.status}, expected 401`);
  const shared = await request(`${url}/jwt/v1/small`, { headers: H });
  expect(shared.status === 200, `the shared token on /jwt answered ${shared.status}`);
  const bud = await request(`${url}/bud/v1/chat/completions`, { method: 'POST', headers: JSON_H, body: CHAT_BODY });
  expect(bud.status === 200 && bud.headers['x-budget-limit'] !== undefined, `/bud answered ${bud.status} without X-Budget-Limit: ${bud.body.toString().slice(0, 200)}`);
  const stream = await request(`${url}/bud/v1/chat/completions?n=2&ms=1`, { method: 'POST', headers: JSON_H, body: CHAT_STREAM_BODY });
  expect(stream.status === 200 && stream.body.includes('[DONE]') && !stream.body.includes('"usage"'), '/bud stream: the relay did not strip the usage chunk it asked for');
  if (!cache) return;
  const body = EMBED_BODY.replace('@N@', `sanity-${Date.now()}`);
  const first = await request(`${url}/cache/v1/embeddings`, { method: 'POST', headers: JSON_H, body });
  const second = await request(`${url}/cache/v1/embeddings`, { method: 'POST', headers: JSON_H, body });
  expect(first.headers['x-relay-cache'] === 'MISS' && second.headers['x-relay-cache'] === 'HIT' && second.body.equals(first.body), `/cache answered ${first.headers['x-relay-cache']} then ${second.headers['x-relay-cache']}`);
  expect(first.body.length >= 2000, `the embeddings answer is ${first.body.length} bytes, expected 2 KB`);
  const na = await request(`${url}/cachena/v1/embeddings`, { method: 'POST', headers: JSON_H, body });
  expect(na.status === 200 && na.headers['x-relay-cache'] === undefined, `/cachena answered ${na.status} with X-Relay-Cache ${na.headers['x-relay-cache']}`);
}

/** The features relay (and its JWKS server), started once for every feature scenario of a run. */
async function featureRelay(ctx) {
  if (ctx.features) return ctx.features;
  const issuer = await startIssuer();
  ctx.cleanups.push(() => issuer.stop());
  const yaml = featuresYaml({ upstreamUrl: ctx.upstream.url, jwksUrl: issuer.jwksUrl });
  const relay = await startRelay(ctx.tmp, ctx.upstream.url, { yaml, name: 'relay-features' });
  ctx.cleanups.push(() => relay.stop());
  await sanity(relay.url, issuer);
  ctx.log(`started the features relay at ${relay.url} (pid ${relay.pid})`);
  ctx.features = { relay, issuer };
  return ctx.features;
}

function bodyFile(ctx, name, text) {
  const f = join(ctx.tmp, name);
  writeFileSync(f, text);
  return f;
}

/**
 * wrk rows against one process, interleaved, each row's first run preceded by a warm-up. A
 * repetition is cut into `slices` short runs per row, alternating rows slice by slice (the order
 * rotates), and summed: the rows of one repetition are then measured within seconds of each
 * other, so a change in the machine's load hits them alike and their difference (the "added"
 * figure) keeps its meaning on a busy host. `rows`: name → wrkRun options. `around(name, run)`
 * may wrap a measured run (Redis command counts).
 */
async function wrkRows(ctx, label, pid, rows, around = (_n, run) => run()) {
  const names = Object.keys(rows);
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  const { seconds, warm, slices = 1 } = ctx.dur.feature;
  const per = Math.max(1, Math.round(seconds / slices));
  for (let rep = 0; rep < ctx.runs; rep++) {
    const parts = Object.fromEntries(names.map((n) => [n, []]));
    for (let k = 0; k < slices; k++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + rep + k) % names.length];
        const opts = { connections: 50, pid, ...rows[name] };
        if (rep === 0 && k === 0) await wrkRun({ ...opts, seconds: warm, unique: opts.unique ? `warm-${Date.now()}` : '' });
        const one = await around(name, () => wrkRun({ ...opts, seconds: per, unique: opts.unique ? `${rep}-${k}-${Date.now()}` : '' }));
        // A refusal row answers 4xx on purpose: only socket errors count there.
        if (opts.refusal) one.errors -= one.non2xx;
        parts[name].push(one);
      }
    }
    for (const name of names) {
      const r = mergeSlices(parts[name]);
      ctx.log(`  ${label} ${name.padEnd(14)} run ${rep + 1}: ${Math.round(r.rps)} req/s p50 ${r.p50_ms.toFixed(2)} ms p99 ${r.p99_ms.toFixed(2)} ms CPU ${Math.round(r.cpu_us_per_req)} µs/req${r.errors ? ` ERRORS ${r.errors}` : ''} steal ${r.steal_pct.toFixed(0)}%`);
      runs[name].push(r);
    }
  }
  return { runs, targets: summarise(runs) };
}

/** One figure from a repetition's slices: requests and CPU summed, latency percentiles the slices' median. */
function mergeSlices(rs) {
  if (rs.length === 1) return rs[0];
  const requests = rs.reduce((a, r) => a + r.requests, 0);
  const secs = rs.reduce((a, r) => a + (r.requests / r.rps || 0), 0);
  const cpu = rs.every((r) => r.cpu_s != null) ? rs.reduce((a, r) => a + r.cpu_s, 0) : null;
  return {
    requests,
    rps: secs > 0 ? requests / secs : 0,
    p50_ms: median(rs.map((r) => r.p50_ms)),
    p99_ms: median(rs.map((r) => r.p99_ms)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
    cpu_s: cpu,
    cpu_us_per_req: cpu != null && requests > 0 ? (cpu * 1e6) / requests : null,
    steal_pct: median(rs.map((r) => r.steal_pct)),
  };
}

/** Median over repetitions of (row − base): the two ran back to back in each repetition. */
function added(runs, row, base, field = 'cpu_us_per_req') {
  const d = runs[row].map((r, i) => (r[field] != null && runs[base][i]?.[field] != null ? r[field] - runs[base][i][field] : null));
  return round(median(d), 1);
}

/**
 * The dashboard's cost per request (issue #18: ≤ 5 µs when on): the same `/api` route on the
 * features relay (dashboard off) and on a second relay whose only difference is
 * `server.dashboard`, with a logged-in page's event stream open, so the feed records every
 * exchange and builds an update a second. Two processes: rows alternate slice by slice.
 */
export async function dashboard(ctx) {
  const { relay, issuer } = await featureRelay(ctx);
  const yaml = featuresYaml({ upstreamUrl: ctx.upstream.url, jwksUrl: issuer.jwksUrl }).replace('server:\n', `server:\n  dashboard:\n    path: /_relay\n    token: ${DASHBOARD_TOKEN}\n`);
  const on = await startRelay(ctx.tmp, ctx.upstream.url, { yaml, name: 'relay-dashboard' });
  ctx.cleanups.push(() => on.stop());
  const login = await request(`${on.url}/_relay/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: DASHBOARD_TOKEN }) });
  expect(login.status === 200 && login.headers['set-cookie'], `dashboard login answered ${login.status}`);
  const cookie = String(login.headers['set-cookie']).split(';')[0];
  let updates = 0;
  const events = http.get(`${on.url}/_relay/events`, { headers: { cookie, accept: 'text/event-stream' } }, (res) => {
    expect(res.statusCode === 200, `dashboard events answered ${res.statusCode}`);
    res.on('data', (c) => (updates += (String(c).match(/^event: /gm) ?? []).length));
  });
  events.on('error', () => {});
  ctx.cleanups.push(() => events.destroy());
  const path = '/api/v1/small';
  const { runs, targets } = await wrkRows(ctx, 'dashboard', relay.pid, {
    dashboard_off: { url: relay.url + path },
    dashboard_on: { url: on.url + path, pid: on.pid },
  });
  expect(updates > 0, 'the dashboard page received no update while traffic ran');
  const r = { settings: { connections: 50, seconds: ctx.dur.feature.seconds, slices: ctx.dur.feature.slices ?? 1, path: `GET ${path}`, updates }, targets };
  r.added_cpu_us = added(runs, 'dashboard_on', 'dashboard_off');
  ctx.log(`  dashboard: +${r.added_cpu_us} µs CPU per request with the dashboard on and a page open (${updates} updates received)`);
  return r;
}

export async function jwt(ctx) {
  const { relay, issuer } = await featureRelay(ctx);
  const url = `${relay.url}/jwt/v1/small`;
  const { runs, targets } = await wrkRows(ctx, 'jwt', relay.pid, {
    shared_token: { url },
    jwt_es256: { url, token: issuer.token },
  });
  const r = { settings: { connections: 50, seconds: ctx.dur.feature.seconds, slices: ctx.dur.feature.slices ?? 1, path: 'GET /jwt/v1/small', algorithm: 'ES256', jwksFetches: issuer.fetches }, targets };
  r.added_cpu_us = added(runs, 'jwt_es256', 'shared_token');
  ctx.log(`  jwt: +${r.added_cpu_us} µs CPU per request with a JWT (JWKS fetched ${issuer.fetches}×)`);
  return r;
}

export async function budgets(ctx) {
  const { relay } = await featureRelay(ctx);
  const body = bodyFile(ctx, 'chat.json', CHAT_BODY);
  const post = { method: 'POST', bodyFile: body, contentType: 'application/json' };
  const { runs, targets } = await wrkRows(ctx, 'budgets', relay.pid, {
    no_budget: { url: `${relay.url}/api/v1/chat/completions`, ...post },
    budget_memory: { url: `${relay.url}/bud/v1/chat/completions`, ...post },
  });
  const r = { settings: { connections: 50, seconds: ctx.dur.feature.seconds, slices: ctx.dur.feature.slices ?? 1, bodyBytes: CHAT_BODY.length, store: 'memory' }, targets };
  r.added_cpu_us = added(runs, 'budget_memory', 'no_budget');
  ctx.log(`  budgets: +${r.added_cpu_us} µs CPU per request with a token budget (memory store)`);
  return r;
}

/** Commands the budget scripts run inside Redis (counted by commandstats, but no round trip). */
const SCRIPT_INTERNAL = new Set(['hgetall', 'hdel', 'hset', 'hincrby', 'pexpireat', 'time']);

/** Calls per command since the server started, from INFO commandstats. */
function commandStats(port) {
  const text = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8' });
  const out = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

export async function budgetsRedis(ctx) {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    ctx.log('  budgetsRedis: skipped (no redis-server)');
    return { skipped: 'no redis-server' };
  }
  const port = await freePort();
  const redis = await start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { logFile: join(ctx.tmp, 'redis.log') });
  try {
    for (let i = 0; ; i++) {
      try {
        if (execFileSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' }).trim() === 'PONG') break;
      } catch { /* not up yet */ }
      if (i > 200) throw new Error('redis-server did not answer PING');
      await sleep(25);
    }
    const { issuer } = await featureRelay(ctx); // the same JWKS server; the relay is a second one
    const yaml = featuresYaml({ upstreamUrl: ctx.upstream.url, jwksUrl: issuer.jwksUrl, budgetsStore: `redis://127.0.0.1:${port}` });
    const relay = await startRelay(ctx.tmp, ctx.upstream.url, { yaml, name: 'relay-budgets-redis' });
    try {
      await sanity(relay.url, issuer, { cache: false });
      const body = bodyFile(ctx, 'chat.json', CHAT_BODY);
      const post = { method: 'POST', bodyFile: body, contentType: 'application/json' };
      const counted = { commands: 0, requests: 0, byCommand: {} };
      const { runs, targets } = await wrkRows(ctx, 'budgets redis', relay.pid, {
        no_budget: { url: `${relay.url}/api/v1/chat/completions`, ...post },
        budget_redis: { url: `${relay.url}/bud/v1/chat/completions`, ...post },
      }, async (name, run) => {
        if (name !== 'budget_redis') return run();
        const before = commandStats(port);
        const r = await run();
        await sleep(200); // settles of the last answers
        const after = commandStats(port);
        for (const [cmd, n] of Object.entries(after)) {
          if (cmd === 'info') continue;
          const d = n - (before[cmd] ?? 0);
          if (d > 0) {
            counted.commands += d;
            counted.byCommand[cmd] = (counted.byCommand[cmd] ?? 0) + d;
          }
        }
        counted.requests += r.requests;
        return r;
      });
      const r = { settings: { connections: 50, seconds: ctx.dur.feature.seconds, slices: ctx.dur.feature.slices ?? 1, store: 'redis (local redis-server)' }, targets };
      r.added_cpu_us = added(runs, 'budget_redis', 'no_budget');
      // INFO commandstats also counts what the Lua scripts call inside Redis; a round trip is a
      // command a client sent: the script calls (EVALSHA, or EVAL the first time) and anything else.
      // Per budgeted request: the hold script runs one HSET per request (one token budget), so
      // HSET counts the requests the store saw, including those a wrk run cut off (wrk does not
      // count them; their hold and settle still happen).
      const trips = Object.entries(counted.byCommand).filter(([c]) => !SCRIPT_INTERNAL.has(c)).reduce((a, [, n]) => a + n, 0);
      const admitted = counted.byCommand.hset ?? counted.requests;
      r.redis_round_trips_per_request = admitted ? round(trips / admitted, 3) : null;
      r.redis_commands = counted.byCommand;
      r.redis_requests_counted = admitted;
      ctx.log(`  budgets redis: +${r.added_cpu_us} µs CPU per request; ${r.redis_round_trips_per_request} Redis round trips per request (commandstats: ${JSON.stringify(counted.byCommand)})`);
      return r;
    } finally {
      await relay.stop();
    }
  } finally {
    await redis.stop();
  }
}

/** SSE rows: the same stream through two routes, interleaved. */
async function sseRows(ctx, label, url, rows) {
  const { streams, rounds } = ctx.dur.sse;
  const names = Object.keys(rows);
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  for (let rep = 0; rep < ctx.runs; rep++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + rep) % names.length];
      const opts = { streams, batch: streams, headers: H, method: 'POST', body: CHAT_STREAM_BODY, timeoutMs: 60_000 };
      if (rep === 0) await runSseClient({ ...opts, url: `${url}${rows[name]}?n=8&ms=20` });
      for (let k = 0; k < rounds; k++) {
        const r = await runSseClient({ ...opts, url: `${url}${rows[name]}?n=64&ms=20` });
        if (r.errors) ctx.log(`  ${label} ${name}: ${r.errors} stream errors`);
        runs[name].push(r);
      }
      const last = runs[name].at(-1);
      ctx.log(`  ${label} ${name.padEnd(12)} run ${rep + 1}: first event p50 ${last.ttfe_p50_ms?.toFixed(2)} ms, event delay p50 ${last.delay_p50_ms?.toFixed(2)} p99 ${last.delay_p99_ms?.toFixed(2)} ms (${last.events} events)`);
    }
  }
  const targets = summariseSse(runs);
  const [base, row] = names;
  const d = runs[row].map((r, i) => (r.delay_p99_ms != null && runs[base][i]?.delay_p99_ms != null ? r.delay_p99_ms - runs[base][i].delay_p99_ms : null));
  return { settings: { events: 64, intervalMs: 20, concurrentStreams: streams, roundsPerRun: rounds }, targets, added_delay_p99_ms: round(median(d), 3), added_ttfe_ms: round(targets[row].ttfe_p50_ms - targets[base].ttfe_p50_ms, 3) };
}

export async function budgetSse(ctx) {
  const { relay } = await featureRelay(ctx);
  const r = await sseRows(ctx, 'budget sse', relay.url, { no_budget: '/api/v1/chat/completions', budget_memory: '/bud/v1/chat/completions' });
  ctx.log(`  budget sse: added event delay p99 ${r.added_delay_p99_ms} ms`);
  return r;
}

export async function cacheSse(ctx) {
  const { relay } = await featureRelay(ctx);
  const r = await sseRows(ctx, 'cache sse', relay.url, { no_cache: '/api/v1/chat/completions', cache_recording: '/cache/v1/chat/completions' });
  ctx.log(`  cache sse: added event delay p99 ${r.added_delay_p99_ms} ms while recording`);
  return r;
}

export async function cache(ctx) {
  const { relay } = await featureRelay(ctx);
  const body = bodyFile(ctx, 'embed.json', EMBED_BODY);
  const post = { method: 'POST', bodyFile: body, contentType: 'application/json' };
  // Prime the entry the hit row reads (the same body, the same client).
  const primed = await request(`${relay.url}/cache/v1/embeddings`, { method: 'POST', headers: JSON_H, body: EMBED_BODY });
  expect(primed.status === 200, `priming /cache answered ${primed.status}`);
  const { runs, targets } = await wrkRows(ctx, 'cache', relay.pid, {
    relayed: { url: `${relay.url}/api/v1/embeddings`, ...post },
    hit: { url: `${relay.url}/cache/v1/embeddings`, ...post },
    relayed_unique: { url: `${relay.url}/api/v1/embeddings`, ...post, unique: true },
    miss: { url: `${relay.url}/cache/v1/embeddings`, ...post, unique: true },
    not_applicable: { url: `${relay.url}/cachena/v1/embeddings`, ...post },
    // The cheapest answer this route gives (issue #17's 3× limit): the same POST without a
    // token is refused with 401 before its body is read. A hit does all of that and more (reads
    // and keys the body, writes 2 KB), so its req/s cannot pass this row's.
    refused: { url: `${relay.url}/cache/v1/embeddings`, ...post, headers: false, refusal: true },
  });
  const r = { settings: { connections: 50, seconds: ctx.dur.feature.seconds, slices: ctx.dur.feature.slices ?? 1, bodyBytes: EMBED_BODY.length, answerBytes: primed.body.length, store: 'memory' }, targets };
  r.hit_rps_ratio = targets.relayed.rps ? round(targets.hit.rps / targets.relayed.rps, 2) : null;
  r.refused_rps_ratio = targets.relayed.rps ? round(targets.refused.rps / targets.relayed.rps, 2) : null;
  r.hit_cpu_us_saved = added(runs, 'relayed', 'hit');
  r.miss_added_cpu_us = added(runs, 'miss', 'relayed_unique');
  r.not_applicable_added_cpu_us = added(runs, 'not_applicable', 'relayed');
  ctx.log(`  cache: a refusal (401, the cheapest answer) ${r.refused_rps_ratio}× the relayed req/s`);
  ctx.log(`  cache: hit ${r.hit_rps_ratio}× the relayed req/s, ${r.hit_cpu_us_saved} µs less CPU; a miss adds ${r.miss_added_cpu_us} µs, a non-matching cache.paths ${r.not_applicable_added_cpu_us} µs`);
  return r;
}
