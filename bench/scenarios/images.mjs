// PNG->JPEG: the relay's transform CPU per image (1024x1024 RGBA PNG, base64 in JSON, q95),
// a Pillow script doing the same steps, and the p99 of small requests on another route while
// images convert (the transform must not starve proxying).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { request } from '../lib/http.mjs';
import { cpuSeconds, mainThreadSched } from '../lib/proc.mjs';
import { wrkRun } from '../lib/wrk.mjs';
import { median, percentile, round } from '../lib/stats.mjs';
import { CLIENT_HEADERS, ROOT } from '../lib/targets.mjs';

async function fetchImage(url) {
  const t0 = performance.now();
  const r = await request(url, { headers: CLIENT_HEADERS, timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`image request: status ${r.status} ${r.body.toString('utf8', 0, 200)}`);
  const doc = JSON.parse(r.body.toString('utf8'));
  const b64 = doc?.data?.[0]?.b64_json ?? '';
  return { ms, converted: b64.startsWith('/9j/'), jpegBytes: Math.floor((b64.length * 3) / 4) };
}

/** Keeps `concurrency` image requests in flight until stop() is called. */
export function imageLoop(url, concurrency) {
  let running = true;
  let done = 0;
  const lanes = Array.from({ length: concurrency }, async () => {
    while (running) {
      await fetchImage(url);
      done += 1;
    }
  });
  return { stop: async () => { running = false; await Promise.all(lanes); return done; } };
}

/** Debian's python3 has python3-pil; a pyenv/venv python3 first on PATH may not. */
export function findPython() {
  const tryOne = (py) => new Promise((resolve) => execFile(py, ['-c', 'import PIL'], (err) => resolve(err ? null : py)));
  return ['python3', '/usr/bin/python3'].reduce((p, py) => p.then((found) => found ?? tryOne(py)), Promise.resolve(null));
}

export async function pillow(ctx, iterations) {
  const py = await findPython();
  if (!py) return { error: 'no python3 with PIL (apt-get install python3-pil)' };
  return new Promise((resolve) => {
    execFile(py, [join(ROOT, 'bench/pillow_convert.py'), ctx.imageFile, String(iterations)], { timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) return resolve({ error: `${err.message} ${stderr}` });
      const r = JSON.parse(stdout.trim().split('\n').at(-1));
      return resolve({ ...r, cpu_ms_per_image: round(r.cpu_ms_per_image, 1), wall_ms_per_image: round(r.wall_ms_per_image, 1), interpreter: py });
    });
  });
}

/** Pause after each answer, per connection, in the paced runs. */
const PACED_DELAY_MS = 2;

export async function images(ctx) {
  const { count, seconds, concurrency } = ctx.dur.images;
  const relay = ctx.targets.relay;
  const imgUrl = `${relay.url}/img/v1/image`;
  const first = await fetchImage(imgUrl); // warm-up: loads sharp, fills pools
  // 1. CPU per image: relay process CPU over `count` conversions, `concurrency` in flight.
  const walls = [];
  const cpu0 = cpuSeconds(relay.pid);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < count) walls.push((await fetchImage(imgUrl)).ms);
  }));
  const cpuMs = ((cpuSeconds(relay.pid) - cpu0) * 1000) / count;
  ctx.log(`  images: relay ${cpuMs.toFixed(1)} ms CPU/image (wall p50 ${median(walls)?.toFixed(0)} ms, converted: ${first.converted})`);
  // 2. Small requests on the other route, without and with images converting: first as fast as
  // 4 connections go (closed loop, which alone keeps the event loop ~90 % busy), then paced (each
  // connection waits PACED_DELAY_MS after every answer: ~1,500 req/s, a moderate load).
  const small = (secs, delayMs = 0) => wrkRun({ url: `${relay.url}/api/v1/small`, connections: 4, seconds: secs, pid: relay.pid, delayMs });
  const phase = async (delayMs, withImages) => {
    const loop = withImages ? imageLoop(imgUrl, concurrency) : null;
    const s0 = mainThreadSched(relay.pid);
    const r = await small(seconds, delayMs);
    const s1 = mainThreadSched(relay.pid);
    const images = loop ? await loop.stop() : 0;
    const secs = r.requests / r.rps;
    const sched = s0 && s1 ? { loop_busy_pct: round((100 * (s1.runS - s0.runS)) / secs, 1), loop_waiting_pct: round((100 * (s1.waitS - s0.waitS)) / secs, 1) } : {};
    return { rps: round(r.rps, 0), p50_ms: round(r.p50_ms, 3), p99_ms: round(r.p99_ms, 3), errors: r.errors, images_converted: images, ...sched };
  };
  await small(1);
  const idle = await phase(0, false);
  const busy = await phase(0, true);
  ctx.log(`  images: small-request p99 ${idle.p99_ms.toFixed(2)} ms idle, ${busy.p99_ms.toFixed(2)} ms while ${busy.images_converted} images converted (event loop waiting for a CPU ${busy.loop_waiting_pct ?? '?'} % of the time)`);
  const pacedIdle = await phase(PACED_DELAY_MS, false);
  const pacedBusy = await phase(PACED_DELAY_MS, true);
  ctx.log(`  images: paced small requests (${pacedIdle.rps} req/s): p99 ${pacedIdle.p99_ms.toFixed(2)} ms idle, ${pacedBusy.p99_ms.toFixed(2)} ms while ${pacedBusy.images_converted} images converted`);
  // 3. Pillow doing the same steps.
  const pil = await pillow(ctx, Math.max(2, Math.ceil(count / 2)));
  if (pil.error) ctx.log(`  images: Pillow baseline skipped: ${pil.error}`);
  else ctx.log(`  images: Pillow ${pil.cpu_ms_per_image} ms CPU/image`);
  return {
    settings: { image: `${ctx.imageSize}x${ctx.imageSize} RGBA PNG, ${ctx.imagePngBytes} bytes, base64 in JSON`, quality: 95, count, concurrency, smallConnections: 4, seconds },
    relay: {
      converted: first.converted,
      jpeg_bytes: first.jpegBytes,
      cpu_ms_per_image: round(cpuMs, 1),
      wall_ms_p50: round(median(walls), 1),
      wall_ms_p99: round(percentile(walls, 99), 1),
    },
    pillow: pil,
    small_idle: idle,
    small_busy: busy,
    paced_delay_ms: PACED_DELAY_MS,
    paced_idle: pacedIdle,
    paced_busy: pacedBusy,
  };
}
