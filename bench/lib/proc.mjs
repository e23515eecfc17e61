// Reading a process's own CPU time and memory from /proc. CPU is taken from the proxy's
// utime+stime (and its children's, for nginx's worker or forked relay workers), so load from
// other processes on this shared 2-vCPU machine does not leak into the per-request figure.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck;
/** Clock ticks per second of /proc/PID/stat (usually 100). */
export function clockTicks() {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Direct and indirect children of a pid (via /proc/PID/task/TID/children). */
export function descendants(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    let tasks = [];
    try {
      tasks = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      /* process gone or no children file */
    }
    for (const c of tasks) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** utime+stime of one process in ticks, or 0 when it is gone. */
function ticksOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces: parse after the last ')'.
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // fields 14 and 15 of the full line
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by pid and its live descendants. */
export function cpuSeconds(pid) {
  let t = ticksOf(pid);
  for (const c of descendants(pid)) t += ticksOf(c);
  return t / clockTicks();
}

function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Resident set size in MB, summed over the process tree. */
export function rssMb(pid) {
  let kb = statusKb(pid, 'VmRSS');
  for (const c of descendants(pid)) kb += statusKb(c, 'VmRSS');
  return kb / 1024;
}

/** Peak resident set size (VmHWM) in MB, summed over the process tree. */
export function hwmMb(pid) {
  let kb = statusKb(pid, 'VmHWM');
  for (const c of descendants(pid)) kb += statusKb(c, 'VmHWM');
  return kb / 1024;
}

/**
 * Resets VmHWM to the current RSS (`echo 5 > /proc/PID/clear_refs`, Linux >= 4.0) so a
 * scenario's peak is not hidden by an earlier one. Returns false when not permitted.
 */
export function resetHwm(pid) {
  let ok = true;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      ok = false;
    }
  }
  return ok;
}

/** Samples RSS every `everyMs` until stopped; returns the max seen (backs up resetHwm). */
export function rssSampler(pid, everyMs = 25) {
  let max = rssMb(pid);
  const t = setInterval(() => {
    max = Math.max(max, rssMb(pid));
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      return Math.max(max, rssMb(pid));
    },
  };
}

/** Whole-machine CPU counters from /proc/stat, for the hypervisor steal share of a run. */
export function machineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal (guest is inside user)
  return { total, steal: v[7] ?? 0, idle: (v[3] ?? 0) + (v[4] ?? 0) };
}

/** Steal as a percentage of all CPU time between two machineCpu() samples. */
export function stealPct(a, b) {
  const dt = b.total - a.total;
  return dt > 0 ? (100 * (b.steal - a.steal)) / dt : 0;
}

/**
 * The main thread's scheduler counters (/proc/PID/task/PID/schedstat): time on a CPU, time
 * runnable but waiting for one, and timeslices. The wait says whether a slow event loop was
 * busy or starved by other threads and processes.
 */
export function mainThreadSched(pid) {
  try {
    const [run, wait, slices] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { runS: run / 1e9, waitS: wait / 1e9, slices };
  } catch {
    return null;
  }
}
