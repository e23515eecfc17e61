// Cold start: process spawn → first 200 on /health (the relay answers it itself; the peers
// are timed to the first 200 proxied to the upstream's /health). Fresh process every time.
import { median, round } from '../lib/stats.mjs';
import { startTarget } from '../lib/targets.mjs';

export async function coldStart(ctx) {
  const { repeat } = ctx.dur.cold;
  const names = ctx.names.filter((n) => n !== 'direct');
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < repeat; i++) {
    for (const name of names) {
      const t = await startTarget(name, ctx.tmp, ctx.upstream);
      runs[name].push(t.startMs);
      await t.stop();
    }
  }
  const targets = {};
  for (const [name, ms] of Object.entries(runs)) {
    targets[name] = { median_ms: round(median(ms), 1), min_ms: round(Math.min(...ms), 1), max_ms: round(Math.max(...ms), 1), n: ms.length };
    ctx.log(`  cold start ${name.padEnd(10)}: median ${targets[name].median_ms} ms (${ms.map((x) => x.toFixed(0)).join(', ')})`);
  }
  return { settings: { repeat, pollEveryMs: 2 }, targets };
}
