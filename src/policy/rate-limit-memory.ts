/**
 * `store: memory` — one Map of buckets per route, per process. Synchronous: it sits on the hot
 * path of every request of a limited route, so a call does a Map lookup and two multiplications
 * and allocates nothing but the result (and a bucket the first time a key is seen).
 *
 * Memory stays bounded when a flood brings a new IP every request:
 * - a bucket that has refilled completely is identical to a missing one, so an unref'd timer
 *   (every `per`, clamped to 1 s..60 s) drops full buckets;
 * - a hard cap (`maxKeys`, default 100 000) triggers the same sweep early and, if the flood is
 *   still over it, evicts the oldest-created buckets down to 90 % of the cap. An evicted key starts
 *   over with a full bucket: under such a flood a few partially used buckets are forgiven rather
 *   than letting the process grow without bound.
 */
import type { RateLimitConfig } from '../config/schema.js';
import { bucketParams, rateResult, type RateResult } from './rate-limit-bucket.js';

interface Bucket {
  /** Level in units (see rate-limit-bucket.ts). */
  level: number;
  /** Clock reading (ms) when `level` was computed. */
  at: number;
}

export interface MemoryLimiterOptions {
  /** Monotonic milliseconds; tests inject a fake clock. Default: performance.now(). */
  now?: () => number;
  maxKeys?: number;
  /** Sweep interval; default `per` clamped to 1 s..60 s. 0 disables the timer (tests). */
  sweepEvery?: number;
}

export interface MemoryLimiter {
  consume(key: string): RateResult;
  /** Drop every bucket that is full again; returns how many were dropped. */
  sweep(): number;
  readonly size: number;
  close(): Promise<void>;
}

const monotonic = () => Math.floor(performance.now());

export function createMemoryLimiter(
  cfg: Pick<RateLimitConfig, 'requests' | 'per'>,
  opts: MemoryLimiterOptions = {},
): MemoryLimiter {
  const p = bucketParams(cfg);
  const { cap, cost, refill } = p;
  const now = opts.now ?? monotonic;
  const maxKeys = Math.max(1, opts.maxKeys ?? 100_000);
  const buckets = new Map<string, Bucket>();

  function sweepAt(t: number): number {
    let dropped = 0;
    for (const [key, b] of buckets) {
      if (b.level + (t - b.at) * refill >= cap) {
        buckets.delete(key); // deleting the current entry while iterating a Map is safe
        dropped++;
      }
    }
    return dropped;
  }

  function makeRoom(t: number): void {
    sweepAt(t);
    if (buckets.size < maxKeys) return;
    let excess = buckets.size - Math.floor(maxKeys * 0.9);
    // Map iteration order is insertion order: the oldest-created buckets go first.
    for (const key of buckets.keys()) {
      if (excess-- <= 0) break;
      buckets.delete(key);
    }
  }

  const every = opts.sweepEvery ?? Math.min(60_000, Math.max(1000, p.per));
  const timer = every > 0 ? setInterval(() => sweepAt(now()), every) : undefined;
  timer?.unref();

  return {
    consume(key) {
      const t = now();
      let b = buckets.get(key);
      if (b === undefined) {
        if (buckets.size >= maxKeys) makeRoom(t);
        b = { level: cap, at: t };
        buckets.set(key, b);
      } else if (t > b.at) {
        const level = b.level + (t - b.at) * refill;
        b.level = level < cap ? level : cap;
        b.at = t;
      } else if (t < b.at) {
        b.at = t; // the clock went backwards: grant nothing, measure from here
      }
      const allowed = b.level >= cost;
      if (allowed) b.level -= cost;
      return rateResult(p, allowed, b.level);
    },
    sweep: () => sweepAt(now()),
    get size() {
      return buckets.size;
    },
    async close() {
      if (timer) clearInterval(timer);
      buckets.clear();
    },
  };
}
