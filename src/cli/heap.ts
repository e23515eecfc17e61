/**
 * V8 heap tuning for the `ai-relay serve` process.
 *
 * Why: V8 counts the Buffers the process holds (external memory) against the old-generation
 * limit. An image conversion holds ~13 MB of them at once: the upstream body, its concatenation
 * and the decoded PNG. Against a relay's small heap (~17 MB live) V8 then chose a limit that put
 * every conversion over it, so it ran about one full mark-compact per image. That was 124 in an
 * 8-second image load, 2-12 ms each, on the same thread as every other request. A growing factor
 * of 4 (V8's own upper bound) left 14-19 mark-compacts. In the bench, the small-request p99 on
 * the other route fell from 16-20 ms to 8-9 ms, and 10-25 % more images converted. The 5,000-stream
 * RSS did not move (211 vs 208 MB). Figures are in docs/benchmarks.md.
 *
 * V8 reads this flag each time it recomputes its limits, so setting it once at start-up works,
 * including in the single executable, which takes no node flags. To keep V8's own heuristics,
 * set AI_RELAY_HEAP_GROWING_PERCENT=0. A `--heap-growing-percent` given to node itself wins.
 *
 * Allocation-site pretenuring is switched off too (issue #19). V8 allocates objects from a code
 * site straight into the old generation once most of them survived a young-generation GC. Under a
 * POST load (the body streamed to undici) the exchange and its objects live about as long as the
 * gap between two scavenges, so V8 pretenured them. A dead exchange in the old generation stays
 * until the next mark-compact, and its pointers keep the young objects it held alive through
 * every scavenge until then: `--trace-gc` showed 3.1 MB promoted per scavenge against 0.2 MB
 * without pretenuring (the bare undici proxy: 0.3 MB), 4.6 vs 1.6 ms of scavenging per 1,000
 * requests, and 10-15 % less CPU per relayed POST (docs/benchmarks.md). The switch is read at
 * every GC, so setting it at start-up works in the single executable too. A relay's long-lived
 * objects are few (routes, pools); they are promoted after two scavenges either way.
 * AI_RELAY_HEAP_PRETENURING=1, or node's own `--allocation-site-pretenuring`, keeps V8's default.
 */
import v8 from 'node:v8';
import { UsageError } from './errors.js';

export const DEFAULT_HEAP_GROWING_PERCENT = 300;

/** The growing percent to set, or undefined to leave V8's heuristics (or node's own flag) alone. */
export function heapGrowingPercent(env: NodeJS.ProcessEnv, execArgv: readonly string[]): number | undefined {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent\b/.test(a))) return undefined;
  const raw = env.AI_RELAY_HEAP_GROWING_PERCENT;
  const percent = raw === undefined || raw === '' ? DEFAULT_HEAP_GROWING_PERCENT : Number(raw);
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) {
    throw new UsageError(`AI_RELAY_HEAP_GROWING_PERCENT must be an integer 0-1000, got ${raw}`);
  }
  return percent === 0 ? undefined : percent;
}

/** true when allocation-site pretenuring should be switched off for this process. */
export function pretenuringOff(env: NodeJS.ProcessEnv, execArgv: readonly string[]): boolean {
  if (execArgv.some((a) => /^--(no-)?allocation[-_]site[-_]pretenuring\b/.test(a))) return false;
  const raw = env.AI_RELAY_HEAP_PRETENURING;
  if (raw === undefined || raw === '' || raw === '0') return true;
  if (raw === '1') return false;
  throw new UsageError(`AI_RELAY_HEAP_PRETENURING must be 0 or 1, got ${raw}`);
}

export interface HeapTuning {
  /** The growing percent set, if any. */
  growingPercent: number | undefined;
  /** Allocation-site pretenuring was switched off. */
  pretenuringOff: boolean;
}

/** Applies the heap settings for this process (before anything allocates much). */
export function tuneHeap(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): HeapTuning {
  const percent = heapGrowingPercent(env, execArgv);
  const off = pretenuringOff(env, execArgv);
  if (percent !== undefined) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  if (off) v8.setFlagsFromString('--no-allocation-site-pretenuring');
  return { growingPercent: percent, pretenuringOff: off };
}
