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

/** Applies the growing factor for this process; returns the percent set, if any. */
export function tuneHeap(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): number | undefined {
  const percent = heapGrowingPercent(env, execArgv);
  if (percent !== undefined) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
