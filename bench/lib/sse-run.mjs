// Drives sse-client.mjs from the harness: starts it, lets the caller sample the proxy while
// all streams are open, and returns the client's summary.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { median, round } from './stats.mjs';
import { ROOT } from './targets.mjs';
import { cleanEnv } from './spawn.mjs';

export function runSseClient(opts, { onOpen } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench/lib/sse-client.mjs'), JSON.stringify(opts)], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    let onOpenResult;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      const open = /^OPEN (.*)$/m.exec(buf);
      if (open && onOpenResult === undefined) {
        onOpenResult = null;
        Promise.resolve(onOpen?.(JSON.parse(open[1]))).then((v) => (onOpenResult = v ?? null));
      }
    });
    child.on('exit', async (code) => {
      const done = /^DONE (.*)$/m.exec(buf);
      if (!done) return reject(new Error(`sse client exited ${code} without a summary`));
      const s = JSON.parse(done[1]);
      if (s.error) return reject(new Error(`sse client: ${s.error}`));
      // give a pending onOpen sampler a moment to settle
      for (let i = 0; i < 100 && onOpen && onOpenResult === null; i++) await new Promise((r) => setTimeout(r, 20));
      return resolve({ ...s, sampled: onOpenResult ?? undefined });
    });
  });
}

/** Per-target medians of SSE runs (first event, event delay p50/p99), events and errors summed. */
export function summariseSse(runs) {
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
  return targets;
}
