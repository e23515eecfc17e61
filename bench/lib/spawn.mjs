// Child processes for the upstream and the proxies: started with a clean proxy-free
// environment, stopped by their own pid, never by name.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';

/** process.env without HTTP(S)_PROXY & co, so nothing leaves loopback by accident. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?|all|no)_proxy$/i.test(k)) delete env[k];
  return { ...env, ...extra };
}

/**
 * Starts a process. With `ready: 'line'` waits for a `READY {json}` line on stdout and returns
 * its payload; otherwise stdout/stderr go to `logFile` (or are ignored).
 */
export function start(cmd, args, { env = {}, logFile, ready = 'none', timeoutMs = 15_000, cwd } = {}) {
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(cmd, args, {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', ready === 'line' ? 'pipe' : out, out],
  });
  if (typeof out === 'number') closeSync(out);
  let exited = false;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, sig) => { exited = true; resolve({ code, sig }); }));
  const handle = {
    child,
    pid: child.pid,
    alive: () => !exited,
    exited: exitPromise,
    /** SIGTERM (or `signal`), then SIGKILL after graceMs. */
    async stop(signal = 'SIGTERM', graceMs = 3000) {
      if (exited) return exitPromise;
      child.kill(signal);
      const t = setTimeout(() => !exited && child.kill('SIGKILL'), graceMs);
      const r = await exitPromise;
      clearTimeout(t);
      return r;
    },
  };
  if (ready !== 'line') return Promise.resolve({ ...handle, info: {} });
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd} ${args.join(' ')}: no READY line in ${timeoutMs} ms`)); }, timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /^READY (.*)$/m.exec(buf);
      if (m) {
        clearTimeout(t);
        child.stdout.removeAllListeners('data');
        child.stdout.resume(); // keep draining whatever it prints later
        resolve({ ...handle, info: JSON.parse(m[1]) });
      }
    });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${cmd} ${args.join(' ')} exited with ${code} before READY`)); });
  });
}
