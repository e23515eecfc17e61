// SSE scenarios: 64 events 20 ms apart (added time to first event and added event delay),
// and thousands of concurrently open streams (proxy RSS and event delay while they are open).
import { runSseClient } from '../lib/sse-run.mjs';
import { median, round, sleep } from '../lib/stats.mjs';
import { rssMb, hwmMb, resetHwm } from '../lib/proc.mjs';
import { CLIENT_HEADERS } from '../lib/targets.mjs';

export async function sse64(ctx) {
  const { streams, rounds } = ctx.dur.sse;
  const runs = Object.fromEntries(ctx.names.map((n) => [n, []]));
  for (let rep = 0; rep < ctx.runs; rep++) {
    for (const name of ctx.order(rep)) {
      const t = ctx.targets[name];
      if (rep === 0) await runSseClient({ url: `${t.url}/api/v1/sse?n=8&ms=20`, streams, batch: streams, headers: CLIENT_HEADERS, timeoutMs: 60_000 }); // warm-up
      for (let i = 0; i < rounds; i++) {
        const r = await runSseClient({ url: `${t.url}/api/v1/sse?n=64&ms=20`, streams, batch: streams, headers: CLIENT_HEADERS, timeoutMs: 60_000 });
        if (r.errors) ctx.log(`  sse64 ${name}: ${r.errors} stream errors`);
        runs[name].push(r);
      }
      const last = runs[name].at(-1);
      ctx.log(`  sse 64x20ms ${name.padEnd(10)} run ${rep + 1}: first event p50 ${last.ttfe_p50_ms?.toFixed(2)} ms, event delay p50 ${last.delay_p50_ms?.toFixed(2)} p99 ${last.delay_p99_ms?.toFixed(2)} ms (${last.events} events)`);
    }
  }
  const targets = {};
  for (const [name, rs] of Object.entries(runs)) {
    targets[name] = {
      ttfe_p50_ms: round(median(rs.map((r) => r.ttfe_p50_ms)), 3),
      delay_p50_ms: round(median(rs.map((r) => r.delay_p50_ms)), 3),
      delay_p99_ms: round(median(rs.map((r) => r.delay_p99_ms)), 3),
      events: rs.reduce((a, r) => a + r.events, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      n: rs.length,
    };
  }
  const d = targets.direct;
  for (const [name, s] of Object.entries(targets)) {
    s.added_ttfe_ms = d && name !== 'direct' ? round(s.ttfe_p50_ms - d.ttfe_p50_ms, 3) : null;
    s.added_delay_p99_ms = d && name !== 'direct' ? round(s.delay_p99_ms - d.delay_p99_ms, 3) : null;
  }
  return { settings: { events: 64, intervalMs: 20, concurrentStreams: streams, roundsPerRun: rounds }, targets };
}

export async function openStreams(ctx) {
  const { streams, windowMs, intervalMs } = ctx.dur.streams;
  const targets = {};
  for (const name of ctx.order(0)) {
    const t = ctx.targets[name];
    await sleep(500); // let the previous target's sockets wind down
    const idle = rssMb(t.pid);
    resetHwm(t.pid);
    const r = await runSseClient(
      { url: `${t.url}/api/v1/sse?n=1000000&ms=${intervalMs}`, streams, batch: 250, windowMs, headers: CLIENT_HEADERS, timeoutMs: 180_000 },
      {
        // Sample while every stream is open and events flow.
        onOpen: async () => {
          await sleep(windowMs * 0.75);
          return { rss: rssMb(t.pid), hwm: hwmMb(t.pid) };
        },
      },
    );
    const rss = r.sampled?.rss ?? null;
    targets[name] = {
      streams,
      opened: r.opened,
      errors: r.errors,
      open_s: round(r.openMs / 1000, 2),
      idle_rss_mb: round(idle, 1),
      rss_mb: round(rss, 1),
      peak_rss_mb: round(r.sampled?.hwm ?? null, 1),
      kb_per_stream: rss !== null ? round(((rss - idle) * 1024) / streams, 1) : null,
      delay_p50_ms: round(r.delay_p50_ms, 3),
      delay_p99_ms: round(r.delay_p99_ms, 3),
      events: r.events,
    };
    ctx.log(`  ${streams} open SSE ${name.padEnd(10)}: opened ${r.opened} (errors ${r.errors}) in ${(r.openMs / 1000).toFixed(1)} s, RSS ${rss?.toFixed(0)} MB (idle ${idle.toFixed(0)}), event delay p50 ${r.delay_p50_ms?.toFixed(2)} p99 ${r.delay_p99_ms?.toFixed(2)} ms`);
  }
  return { settings: { streams, eventIntervalMs: intervalMs, measureWindowMs: windowMs }, targets };
}
