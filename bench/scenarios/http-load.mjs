// wrk scenarios: small JSON at 50 connections, one connection (added latency), 1 MB POSTs.
// Runs are interleaved across targets (the order rotates every repetition) and summarised by
// medians, so a burst of hypervisor steal hits every target alike.
import { wrkRun } from '../lib/wrk.mjs';
import { median, round } from '../lib/stats.mjs';
import { hwmMb, resetHwm, rssSampler } from '../lib/proc.mjs';

async function interleaved(ctx, label, run) {
  const runs = Object.fromEntries(ctx.names.map((n) => [n, []]));
  for (let rep = 0; rep < ctx.runs; rep++) {
    for (const name of ctx.order(rep)) {
      const t = ctx.targets[name];
      if (rep === 0 && ctx.warmups) await run(t, name, true); // warm-up: JIT, pools, connections
      const r = await run(t, name, false);
      ctx.log(`  ${label} ${name.padEnd(10)} run ${rep + 1}: ${Math.round(r.rps)} req/s p50 ${r.p50_ms.toFixed(2)} ms p99 ${r.p99_ms.toFixed(2)} ms` +
        (r.cpu_us_per_req != null ? ` CPU ${Math.round(r.cpu_us_per_req)} µs/req` : '') + (r.errors ? ` ERRORS ${r.errors}` : '') + ` steal ${r.steal_pct.toFixed(0)}%`);
      runs[name].push(r);
    }
  }
  return runs;
}

export function summarise(runs, extra = () => ({})) {
  const out = {};
  for (const [name, rs] of Object.entries(runs)) {
    out[name] = {
      rps: round(median(rs.map((r) => r.rps)), 0),
      p50_ms: round(median(rs.map((r) => r.p50_ms)), 3),
      p99_ms: round(median(rs.map((r) => r.p99_ms)), 3),
      cpu_us_per_req: round(median(rs.map((r) => r.cpu_us_per_req)), 1),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      steal_pct: round(median(rs.map((r) => r.steal_pct)), 1),
      n: rs.length,
      ...extra(name, rs),
      runs: rs.map((r) => ({ rps: round(r.rps, 0), p50_ms: round(r.p50_ms, 3), p99_ms: round(r.p99_ms, 3), cpu_us_per_req: round(r.cpu_us_per_req, 1), steal_pct: round(r.steal_pct, 1), errors: r.errors })),
    };
  }
  return out;
}

export async function small50(ctx) {
  const { seconds, warm } = ctx.dur.wrk;
  const runs = await interleaved(ctx, 'small c=50', (t, _n, isWarm) =>
    wrkRun({ url: `${t.url}${t.prefix ?? '/api'}/v1/small`, connections: 50, seconds: isWarm ? warm : seconds, pid: t.pid, headers: t.clientHeaders ?? true }));
  return { settings: { connections: 50, seconds, threads: 1 }, targets: summarise(runs) };
}

export async function conn1(ctx) {
  const { seconds, warm } = ctx.dur.wrk1;
  const runs = await interleaved(ctx, 'small c=1 ', (t, _n, isWarm) =>
    wrkRun({ url: `${t.url}/api/v1/small`, connections: 1, seconds: isWarm ? warm : seconds, pid: t.pid }));
  const targets = summarise(runs);
  const d = targets.direct;
  for (const [name, s] of Object.entries(targets)) {
    s.added_p50_ms = d && name !== 'direct' ? round(s.p50_ms - d.p50_ms, 3) : null;
    s.added_p99_ms = d && name !== 'direct' ? round(s.p99_ms - d.p99_ms, 3) : null;
  }
  return { settings: { connections: 1, seconds, threads: 1 }, targets };
}

export async function post1mb(ctx) {
  const { seconds, warm } = ctx.dur.post;
  const peaks = Object.fromEntries(ctx.names.map((n) => [n, []]));
  const runs = await interleaved(ctx, '1MB POST  ', async (t, name, isWarm) => {
    // Peak RSS of this run only: reset VmHWM, and sample VmRSS as a backup.
    const hwmOk = resetHwm(t.pid);
    const sampler = rssSampler(t.pid);
    const r = await wrkRun({ url: `${t.url}/api/v1/upload`, connections: 8, seconds: isWarm ? warm : seconds, pid: t.pid, method: 'POST', bodyFile: ctx.bodyFile });
    const sampled = sampler.stop();
    if (!isWarm) peaks[name].push(hwmOk ? Math.max(hwmMb(t.pid), sampled) : sampled);
    return r;
  });
  const mb = ctx.bodySize / (1024 * 1024);
  return {
    settings: { connections: 8, seconds, bodyBytes: ctx.bodySize, threads: 1 },
    targets: summarise(runs, (name, rs) => ({
      mb_per_s: round(median(rs.map((r) => r.rps * mb)), 1),
      cpu_us_per_mb: round(median(rs.map((r) => r.cpu_us_per_req)) / mb, 1),
      peak_rss_mb: round(Math.max(...peaks[name]), 1),
    })),
  };
}
