// Runs wrk (the same load generator and settings for every target) and measures the target
// process's own CPU time around the run.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, TOKEN, ORIGIN } from './targets.mjs';
import { cpuSeconds, machineCpu, stealPct } from './proc.mjs';

const LUA = join(ROOT, 'bench/wrk/request.lua');

/** The exact command line, for the docs. */
export function wrkArgs({ url, connections, seconds, threads = 1 }) {
  return ['-t', String(threads), '-c', String(connections), '-d', `${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s', '-s', LUA, url];
}

function runWrk(args, env) {
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { env: { ...process.env, ...env }, timeout: 600_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message} ${stderr}`));
      const m = /^BENCHJSON (.*)$/m.exec(stdout);
      if (!m) return reject(new Error(`wrk printed no summary: ${stdout} ${stderr}`));
      return resolve(JSON.parse(m[1]));
    });
  });
}

/**
 * One measured wrk run. `pid` is the process whose CPU is charged to the target (the proxy; for
 * "direct", the upstream). Returns req/s, latency percentiles (ms) and CPU µs per request.
 */
export async function wrkRun({ url, connections, seconds, pid, method = 'GET', bodyFile, headers = true, delayMs = 0, contentType, cacheControl = '', token = TOKEN, unique = '' }) {
  const env = {
    ...(contentType ? { BENCH_CONTENT_TYPE: contentType } : {}),
    BENCH_METHOD: method,
    BENCH_BODY_FILE: bodyFile ?? '',
    BENCH_TOKEN: headers ? token : '',
    BENCH_ORIGIN: headers ? ORIGIN : '',
    BENCH_DELAY_MS: delayMs ? String(delayMs) : '',
    BENCH_CACHE_CONTROL: cacheControl,
    BENCH_UNIQUE: unique,
  };
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const m0 = machineCpu();
  const r = await runWrk(wrkArgs({ url, connections, seconds }), env);
  const m1 = machineCpu();
  const cpu = pid ? cpuSeconds(pid) - cpu0 : null;
  const secs = r.duration_us / 1e6;
  const errors = r.connect + r.read + r.write + r.status + r.timeout;
  return {
    requests: r.requests,
    rps: r.requests / secs,
    p50_ms: r.p50_us / 1000,
    p90_ms: r.p90_us / 1000,
    p99_ms: r.p99_us / 1000,
    mean_ms: r.mean_us / 1000,
    max_ms: r.max_us / 1000,
    bytes: r.bytes,
    errors,
    non2xx: r.status,
    cpu_s: cpu,
    cpu_us_per_req: cpu !== null && r.requests > 0 ? (cpu * 1e6) / r.requests : null,
    steal_pct: stealPct(m0, m1),
  };
}
