/**
 * Image conversion is bulk work; proxying is latency-sensitive. libvips does the pixel work on its
 * own threads ("libvips worker"), and on a 2-vCPU VPS the kernel shares the cores evenly between
 * them and the event loop, so small requests on other routes wait behind conversions (issue #8).
 * Linux applies `setpriority()` to a single thread when given its TID, so those threads get a
 * higher nice value: they still use every idle cycle, but yield to the event loop when both want
 * a core. Best effort — on other systems, or if /proc is unreadable, nothing happens.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** Nice added to the process's own for conversion threads: at +10 their weight is ~1/10 of the event loop's. */
export const CONVERSION_NICE = 10;

const THREAD_NAME = 'libvips worker';

const seen = new Set<number>();
let enabled = process.platform === 'linux';

/**
 * Lowers the priority of libvips threads not seen before. Cheap enough to call after every
 * conversion (one readdir of /proc/self/task, a read per new thread); libvips keeps its threads,
 * so after the first few conversions there is nothing new.
 */
export function lowerConversionThreads(): number {
  if (!enabled) return 0;
  let tids: string[];
  let target: number;
  try {
    tids = readdirSync('/proc/self/task');
    // Relative to the event loop thread, so a relay already started under `nice` keeps the gap.
    target = Math.min(19, getPriority(process.pid) + CONVERSION_NICE);
  } catch {
    enabled = false;
    return 0;
  }
  // Forget threads that ended (libvips' pool retires idle threads), so the set stays small.
  if (seen.size > tids.length * 2) {
    const live = new Set(tids.map(Number));
    for (const tid of seen) if (!live.has(tid)) seen.delete(tid);
  }
  let lowered = 0;
  for (const t of tids) {
    const tid = Number(t);
    if (seen.has(tid)) continue;
    let name: string;
    try {
      name = readFileSync(`/proc/self/task/${t}/comm`, 'latin1').trim();
    } catch {
      continue; // the thread ended meanwhile
    }
    // Called after a conversion, when libvips' threads have named themselves: a thread seen
    // under another name is one of Node's and stays so.
    seen.add(tid);
    if (name !== THREAD_NAME) continue;
    try {
      // A thread started by an already lowered one inherits its nice value.
      if (getPriority(tid) < target) setPriority(tid, target);
      lowered++;
    } catch {
      enabled = false; // not permitted here (unusual: raising nice needs no privilege)
      return lowered;
    }
  }
  return lowered;
}
