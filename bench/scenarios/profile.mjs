// --profile: a fresh relay under `node --cpu-prof` takes the small-JSON c=50 load; on SIGTERM it
// drains and exits, V8 writes the profile, and the top self-time functions are printed.
import { mkdirSync, readdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRelay } from '../lib/targets.mjs';
import { wrkRun } from '../lib/wrk.mjs';
import { summariseProfile } from '../lib/cpuprofile.mjs';
import { round } from '../lib/stats.mjs';
import { imageLoop } from './images.mjs';

export async function profile(ctx) {
  const dir = join(ctx.tmp, 'cpuprof');
  mkdirSync(dir, { recursive: true });
  // Unbundled entry: the profile then names packages and source files, not bundle chunks.
  const relay = await startRelay(ctx.tmp, ctx.upstream.url, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir], entry: 'bench/peers/relay-unbundled.mjs' });
  // Default: the small-JSON c=50 load. `--profile-load post1mb` profiles 1 MB uploads instead.
  const post = ctx.profileLoad === 'post1mb';
  const opts = post
    ? { url: `${relay.url}/api/v1/upload`, connections: 8, method: 'POST', bodyFile: ctx.bodyFile }
    : { url: `${relay.url}/api/v1/small`, connections: 50 };
  // `--profile-load images`: small requests (c=4) while 2 images convert continuously.
  const images = ctx.profileLoad === 'images';
  if (images) Object.assign(opts, { connections: 4 });
  let load;
  try {
    await wrkRun({ ...opts, seconds: ctx.dur.wrk.warm, pid: relay.pid });
    const loop = images ? imageLoop(`${relay.url}/img/v1/image`, 2) : null;
    load = await wrkRun({ ...opts, seconds: ctx.dur.wrk.seconds, pid: relay.pid });
    if (loop) ctx.log(`(${await loop.stop()} images converted; small requests p99 ${round(load.p99_ms, 2)} ms)`);
  } finally {
    await relay.stop('SIGTERM', 15_000);
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error('the relay wrote no .cpuprofile (did it exit cleanly on SIGTERM?)');
  const src = join(dir, files[0]);
  const keep = join(ctx.resultsDir, 'relay.cpuprofile');
  copyFileSync(src, keep);
  const s = summariseProfile(src);
  ctx.log(`\nCPU profile of the relay under ${post ? '1 MB POSTs c=8' : images ? 'small JSON c=4 + 2 images converting' : 'small JSON c=50'} (${round(load.rps, 0)} req/s, ${round(load.cpu_us_per_req, 0)} µs CPU/req while profiled)`);
  ctx.log(`sampled ${s.sampledMs} ms, busy ${s.busyMs} ms; profile kept at ${keep} (open in Chrome DevTools → Performance)`);
  ctx.log('\n self ms   % busy  function');
  for (const f of s.topFunctions) ctx.log(`${String(f.selfMs).padStart(8)} ${f.pctOfBusy.toFixed(1).padStart(7)}%  ${f.name}`);
  ctx.log('\n self ms   % busy  where');
  for (const a of s.byArea) ctx.log(`${String(a.selfMs).padStart(8)} ${a.pctOfBusy.toFixed(1).padStart(7)}%  ${a.name}`);
  return { load: ctx.profileLoad, rps: round(load.rps, 0), cpu_us_per_req: round(load.cpu_us_per_req, 1), ...s, file: keep };
}
