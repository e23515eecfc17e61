#!/usr/bin/env node
// `npm run bench`: ai-relay next to direct, nginx, @fastify/http-proxy and http-proxy, all on
// 127.0.0.1, driven by wrk and a small SSE client. Writes bench/results/latest.json and
// regenerates docs/benchmarks.md + docs/bench-chart.svg. See docs/benchmarks.md for the method.
//
//   npm run bench                  full run (~10 min on 2 cores)
//   npm run bench -- --quick       a few seconds per scenario (the test suite runs this)
//   npm run bench -- --profile     only the profile step: relay under --cpu-prof during small
//                                  JSON c=50, prints the top self-time functions (full runs do it too)
//   npm run bench -- --only jwt,budgets,budgetsRedis,budgetSse,cache,cacheSse
//                                  the feature rows of issues #16 and #17 (one extra relay with
//                                  every feature on its own route; see bench/scenarios/features.mjs)
//   options: --runs N  --only a,b  --targets a,b  --no-docs  --out FILE  --streams N
//            --profile-load small50|post1mb|images  --docs-from FILE (re-render docs only)
import { parseArgs } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, TARGETS, REFERENCE, REFERENCE_SCENARIOS, relayYaml, startTarget, startUpstream } from './lib/targets.mjs';
import { makeBody, makeImageJson } from './lib/fixture.mjs';
import { machineInfo, versions } from './lib/machine.mjs';
import { small50, conn1, post1mb } from './scenarios/http-load.mjs';
import { sse64, openStreams, openStreams10k } from './scenarios/sse.mjs';
import { images, findPython } from './scenarios/images.mjs';
import { coldStart } from './scenarios/cold-start.mjs';
import { profile } from './scenarios/profile.mjs';
import { FEATURE_SCENARIOS, jwt, budgets, budgetsRedis, budgetSse, cache, cacheSse, dashboard } from './scenarios/features.mjs';
import { evaluateGoals } from './lib/goals.mjs';
import { writeDocs } from './lib/report.mjs';
import { sanityCheck } from './lib/sanity.mjs';

const SCENARIOS = ['coldStart', 'small50', 'conn1', 'post1mb', 'sse64', 'images', 'openStreams', 'openStreams10k', ...FEATURE_SCENARIOS, 'profile'];

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-load': { type: 'string', default: 'small50' },
    runs: { type: 'string' },
    only: { type: 'string' },
    targets: { type: 'string' },
    streams: { type: 'string' },
    out: { type: 'string' },
    'no-docs': { type: 'boolean', default: false },
    'docs-from': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  console.log('usage: node bench/run.mjs [--quick] [--profile] [--runs N] [--only scenario,...] [--targets name,...] [--streams N] [--out file] [--no-docs]');
  console.log(`scenarios: ${SCENARIOS.join(', ')}; targets: ${TARGETS.join(', ')}`);
  process.exit(0);
}

// --docs-from FILE: re-render docs/benchmarks.md and the chart from saved results (after
// editing bench/analysis.md or the report layout) without measuring again.
if (a['docs-from']) {
  const { readFileSync } = await import('node:fs');
  const saved = JSON.parse(readFileSync(a['docs-from'], 'utf8'));
  saved.goals = evaluateGoals(saved); // derived: re-checked with the current goals.mjs
  const files = await writeDocs(saved, ROOT);
  console.log(`docs: ${files.join(', ')}`);
  process.exit(0);
}

function need(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch (e) {
    return e.code !== 'ENOENT';
  }
}
for (const [cmd, args, pkg] of [['wrk', ['-v'], 'wrk'], ['nginx', ['-v'], 'nginx']]) {
  if (!need(cmd, args)) {
    console.error(`bench: ${cmd} not found (apt-get install ${pkg})`);
    process.exit(3);
  }
}
if (!existsSync(join(ROOT, 'dist/cli/bin.js'))) {
  console.error('bench: dist/ is missing; run `npm run build` (npm ci does it via prepare)');
  process.exit(3);
}

const quick = a.quick;
const dur = quick
  ? {
      wrk: { seconds: 1, warm: 1 },
      wrk1: { seconds: 1, warm: 1 },
      post: { seconds: 1, warm: 1 },
      sse: { streams: 5, rounds: 1 },
      streams: { streams: Number(a.streams ?? 100), windowMs: 1500, intervalMs: 500 },
      streams10k: { streams: 200, windowMs: 1500, intervalMs: 500 },
      images: { count: 2, seconds: 1, concurrency: 2 },
      cold: { repeat: 2 },
      feature: { seconds: 1, warm: 1, slices: 1 },
    }
  : {
      wrk: { seconds: 10, warm: 3 },
      wrk1: { seconds: 5, warm: 1 },
      post: { seconds: 5, warm: 1 },
      // 4 rounds of 10 streams per run: a round's first-event p50 moves by ±2 ms on this host.
      sse: { streams: 10, rounds: 4 },
      streams: { streams: Number(a.streams ?? 5000), windowMs: 6000, intervalMs: 1000 },
      streams10k: { streams: 10_000, windowMs: 6000, intervalMs: 1000 },
      images: { count: 30, seconds: 8, concurrency: 2 },
      cold: { repeat: 10 },
      feature: { seconds: 8, warm: 2, slices: 4 }, // 4 × 2 s per row and repetition, rows alternating
    };
const runs = Number(a.runs ?? (quick ? 1 : 3));
const names = a.targets ? a.targets.split(',') : [...TARGETS, ...REFERENCE];
if (!names.includes('direct')) names.unshift('direct'); // the baseline for every "added" figure
/** Targets a scenario measures: the reference rows only where they mean something. */
const namesFor = (scenario) => names.filter((n) => !REFERENCE.includes(n) || REFERENCE_SCENARIOS[n].includes(scenario));
let scenarios = a.only ? a.only.split(',') : a.profile ? ['profile'] : SCENARIOS;
if (a.profile && a.only && !scenarios.includes('profile')) scenarios.push('profile');
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`);
if (!names.includes('relay')) scenarios = scenarios.filter((s) => s !== 'images' && s !== 'profile' && !FEATURE_SCENARIOS.includes(s));

const resultsDir = join(ROOT, 'bench/results');
mkdirSync(resultsDir, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'ai-relay-bench-'));
const log = (s) => console.log(s);
const started = Date.now();

const body = makeBody(tmp);
const image = await makeImageJson(tmp);
const upstream = await startUpstream(tmp, image.file);
const ctx = {
  quick, dur, runs, names, tmp, upstream, log, resultsDir,
  profileLoad: a['profile-load'],
  warmups: !quick, // --quick checks the harness, not the figures: no warm-up runs
  targets: {},
  // Feature scenarios start their own relay (every feature on its own route) once, and stop it here.
  features: undefined,
  cleanups: [],
  bodyFile: body.file, bodySize: body.bytes,
  imageFile: image.file, imageSize: image.size, imagePngBytes: image.pngBytes,
  // Rotate the target order every repetition so no target always runs first or last.
  order: (rep) => ctx.names.map((_, i) => ctx.names[(i + rep) % ctx.names.length]),
};

const results = {
  meta: { date: new Date().toISOString(), quick, runs, targets: names, scenarios, durations: dur },
  scenarios: {},
};

async function stopAll() {
  for (const c of ctx.cleanups.splice(0).reverse()) await c().catch(() => {});
  for (const t of Object.values(ctx.targets)) await t.stop().catch(() => {});
  await upstream.stop().catch(() => {});
}
process.on('SIGINT', () => stopAll().finally(() => process.exit(130)));

let failed = false;
try {
  results.meta.machine = machineInfo();
  results.meta.versions = await versions(await findPython());
  log(`bench: ${quick ? 'quick' : 'full'} run, ${runs} run(s) per target, targets ${names.join(', ')}; scratch dir ${tmp}`);
  if (scenarios.includes('coldStart')) {
    log('\n# cold start');
    ctx.names = namesFor('coldStart');
    results.scenarios.coldStart = await coldStart(ctx);
  }
  const rest = scenarios.filter((s) => s !== 'coldStart' && s !== 'profile' && !FEATURE_SCENARIOS.includes(s));
  if (rest.length) {
    // Only the targets some selected scenario measures (reference rows are small-JSON only).
    for (const n of names.filter((t) => rest.some((s) => namesFor(s).includes(t)))) {
      ctx.targets[n] = await startTarget(n, tmp, upstream);
      await sanityCheck(n, ctx.targets[n]);
      log(`started ${n} at ${ctx.targets[n].url} (pid ${ctx.targets[n].pid})`);
    }
    const fns = { small50, conn1, post1mb, sse64, images, openStreams: (c) => openStreams(c), openStreams10k };
    for (const [i, s] of rest.entries()) {
      log(`\n# ${s}`);
      ctx.names = namesFor(s);
      if ((s === 'openStreams' || s === 'openStreams10k') && i > 0) {
        // Fresh processes: RSS must show what the streams cost, not what earlier scenarios
        // (1 MB bodies, 5 MB image JSON) left in the heap and malloc arenas.
        for (const n of ctx.names) {
          await ctx.targets[n].stop();
          // 10,000 streams need a connection cap above the default 10,000 (server.limits).
          ctx.targets[n] = await startTarget(n, tmp, upstream, s === 'openStreams10k' && n === 'relay' ? { yaml: relayYaml(upstream.url, { maxConnections: 20_000 }) } : {});
          await sanityCheck(n, ctx.targets[n]);
        }
      }
      results.scenarios[s] = await fns[s](ctx);
    }
    for (const t of Object.values(ctx.targets)) await t.stop();
    ctx.targets = {};
  }
  const features = { jwt, budgets, budgetsRedis, budgetSse, cache, cacheSse, dashboard };
  for (const s of scenarios.filter((x) => FEATURE_SCENARIOS.includes(x))) {
    log(`\n# ${s}`);
    results.scenarios[s] = await features[s](ctx);
  }
  for (const c of ctx.cleanups.splice(0).reverse()) await c();
  ctx.features = undefined;
  if (scenarios.includes('profile')) {
    log('\n# profile');
    results.profile = await profile(ctx);
  }
} catch (e) {
  failed = true;
  console.error(`bench failed: ${e.stack ?? e}`);
  results.error = String(e.message ?? e);
} finally {
  await stopAll();
  rmSync(tmp, { recursive: true, force: true });
}

results.meta.elapsedSeconds = Math.round((Date.now() - started) / 1000);
results.goals = evaluateGoals(results);
const out = a.out ?? join(resultsDir, 'latest.json');
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
log(`\nresults: ${out}`);
if (results.goals.length) {
  log('\ngoals (issues #8, #16, #17, #18, #19):');
  for (const g of results.goals) log(`  ${g.met === true ? 'MET ' : g.met === false ? 'MISS' : 'n/a '} #${g.issue} ${g.goal}: ${g.measured ?? 'not measured'}`);
}
// Docs are regenerated only by complete full runs, so a quick or partial run never
// overwrites the published figures.
if (!a['no-docs'] && !quick && !failed && !a.only && !a.targets && !a.profile) {
  const files = await writeDocs(results, ROOT);
  log(`docs: ${files.join(', ')}`);
}
process.exit(failed ? 1 : 0);
