// SSE scenarios: 64 events 20 ms apart (added time to first event and added event delay),
// and thousands of concurrently open streams (proxy RSS and event delay while they are open).
import { runSseClient, summariseSse } from '../lib/sse-run.mjs';
import { median, round, sleep } from '../lib/stats.mjs';
import { rssMb, hwmMb, resetHwm } from '../lib/proc.mjs';
import { readFileSync } from 'node:fs';
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
  const targets = summariseSse(runs);
  const d = targets.direct;
  for (const [name, s] of Object.entries(targets)) {
    s.added_ttfe_ms = d && name !== 'direct' ? round(s.ttfe_p50_ms - d.ttfe_p50_ms, 3) : null;
    s.added_delay_p99_ms = d && name !== 'direct' ? round(s.delay_p99_ms - d.delay_p99_ms, 3) : null;
  }
  return { settings: { events: 64, intervalMs: 20, concurrentStreams: streams, roundsPerRun: rounds }, targets };
}

export async function openStreams(ctx, { dur = ctx.dur.streams, streamsFor = () => dur.streams, first = [] } = {}) {
  const { windowMs, intervalMs } = dur;
  const targets = {};
  const order = ctx.order(0);
  for (const name of [...first.filter((n) => order.includes(n)), ...order.filter((n) => !first.includes(n))]) {
    const t = ctx.targets[name];
    const streams = streamsFor(t);
    let r;
    let idle;
    // A run that opens far fewer streams than asked measures nothing (the upstream still held the
    // previous target's sockets, or the client ran out of ports): one retry after a longer pause.
    for (let attempt = 0; ; attempt++) {
      await sleep(attempt === 0 ? 500 : 5000); // let the previous target's sockets wind down
      idle = rssMb(t.pid);
      resetHwm(t.pid);
      r = await runSseClient(
        { url: `${t.url}/api/v1/sse?n=1000000&ms=${intervalMs}`, streams, batch: 250, windowMs, headers: CLIENT_HEADERS, timeoutMs: 180_000 },
        {
          // Sample while every stream is open and events flow.
          onOpen: async () => {
            await sleep(windowMs * 0.75);
            return { rss: rssMb(t.pid), hwm: hwmMb(t.pid) };
          },
        },
      );
      if (r.opened >= streams * 0.95 || attempt === 1) break;
      ctx.log(`  ${streams} open SSE ${name}: only ${r.opened} opened (errors ${r.errors}); retrying once`);
    }
    const rss = r.sampled?.rss ?? null;
    targets[name] = {
      streams,
      opened: r.opened,
      errors: r.errors,
      open_s: round(r.openMs / 1000, 2),
      idle_rss_mb: round(idle, 1),
      rss_mb: round(rss, 1),
      peak_rss_mb: round(r.sampled?.hwm ?? null, 1),
      // Per stream actually open (a few may fail to open).
      kb_per_stream: rss !== null && r.opened > 0 ? round(((rss - idle) * 1024) / r.opened, 1) : null,
      delay_p50_ms: round(r.delay_p50_ms, 3),
      delay_p99_ms: round(r.delay_p99_ms, 3),
      events: r.events,
    };
    ctx.log(`  ${streams} open SSE ${name.padEnd(10)}: opened ${r.opened} (errors ${r.errors}) in ${(r.openMs / 1000).toFixed(1)} s, RSS ${rss?.toFixed(0)} MB (idle ${idle.toFixed(0)}), event delay p50 ${r.delay_p50_ms?.toFixed(2)} p99 ${r.delay_p99_ms?.toFixed(2)} ms`);
  }
  return { settings: { streams: dur.streams, eventIntervalMs: intervalMs, measureWindowMs: windowMs }, targets };
}

/** The open-files limit of a running process (/proc/PID/limits, soft limit). */
export function openFilesLimit(pid) {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/**
 * 10,000 open streams in one process: the relay and the bare undici floor only. A proxy holds two
 * sockets per stream (client and upstream), so the process needs ~20,050 file descriptors; where
 * its open-files limit is lower (the bench machine's hard limit is 20,000, which an unprivileged
 * process cannot raise) the scenario opens as many as the limit allows, and `rss_mb_at_target`
 * extrapolates linearly from the measured bytes per stream (RSS grows linearly with streams:
 * compare the 5,000-stream row). `kb_per_stream_vs_floor` is the relay's bytes per stream ÷ the
 * floor's, measured in the same run.
 */
export async function openStreams10k(ctx) {
  const dur = ctx.dur.streams10k;
  const reserve = 60; // listening socket, log file, stdio, epoll, the client's spare connections
  const streamsFor = (t) => Math.min(dur.streams, Math.floor((openFilesLimit(t.pid) - reserve) / 2));
  // The relay and the floor first: each stream takes two loopback connections and the closed ones
  // linger in TIME_WAIT, so after four peers at ~20,000 connections each the last target could
  // not open its streams (the floor opened 39 of 9,970 in one full run; alone, all of them).
  const r = await openStreams(ctx, { dur, streamsFor, first: ['relay', 'undici-floor'] });
  for (const [name, t] of Object.entries(r.targets)) {
    t.limited_by_open_files = t.streams < dur.streams;
    t.rss_mb_at_target = t.kb_per_stream == null ? null : round(t.idle_rss_mb + (t.kb_per_stream * dur.streams) / 1024, 1);
    if (t.limited_by_open_files) ctx.log(`  ${name}: open-files limit allows ${t.streams} streams; RSS at ${dur.streams} extrapolated: ${t.rss_mb_at_target} MB`);
  }
  // Compared only when both held (nearly) all their streams.
  const full = (t) => t != null && t.opened >= t.streams * 0.95;
  const relay = full(r.targets.relay) ? r.targets.relay.kb_per_stream : null;
  const floor = full(r.targets['undici-floor']) ? r.targets['undici-floor'].kb_per_stream : null;
  r.kb_per_stream_vs_floor = relay != null && floor ? round(relay / floor, 2) : null;
  return r;
}
