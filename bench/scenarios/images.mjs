// PNG->JPEG: the relay's transform CPU per image (1024x1024 RGBA PNG, base64 in JSON, q95),
// a Pillow script doing the same steps, and the p99 of small requests on another route while
// images convert (the transform must not starve proxying).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { request } from '../lib/http.mjs';
import { cpuSeconds } from '../lib/proc.mjs';
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
  // 2. Small requests on the other route, without and with images converting.
  const small = (secs) => wrkRun({ url: `${relay.url}/api/v1/small`, connections: 4, seconds: secs, pid: relay.pid });
  await small(1);
  const idle = await small(seconds);
  const loop = imageLoop(imgUrl, concurrency);
  const busy = await small(seconds);
  const converted = await loop.stop();
  ctx.log(`  images: small-request p99 ${idle.p99_ms.toFixed(2)} ms idle, ${busy.p99_ms.toFixed(2)} ms while ${converted} images converted`);
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
    small_idle: { rps: round(idle.rps, 0), p50_ms: round(idle.p50_ms, 3), p99_ms: round(idle.p99_ms, 3), errors: idle.errors },
    small_busy: { rps: round(busy.rps, 0), p50_ms: round(busy.p50_ms, 3), p99_ms: round(busy.p99_ms, 3), errors: busy.errors, images_converted: converted },
  };
}
