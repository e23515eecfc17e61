/**
 * Token-bucket arithmetic shared by the memory and Redis stores.
 *
 * A bucket holds `requests` tokens and refills `requests` per `per`, continuously. To keep the
 * arithmetic exact (no 0.9999 tokens after an exact refill period, and identical results in
 * JavaScript and in Redis' Lua), the level is kept in integer *units*:
 *   1 token = `cost` units, the bucket holds `cap` units, and every millisecond adds `refill` units,
 * with cost = per/g, refill = requests/g, cap = requests·per/g (g = gcd(requests, per)).
 * Every value stays an integer below 2^53 for any realistic limit, so doubles are exact.
 */
import type { RateLimitConfig } from '../config/schema.js';

export interface RateResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** Seconds until one request is allowed (only meaningful when !allowed). */
  retryAfterSeconds: number;
  /** Set when the store could not be asked (Redis down) and `onStoreError` decided. */
  storeError?: true;
}

export interface BucketParams {
  limit: number;
  cap: number;
  cost: number;
  refill: number;
  /** The refill period in ms (a bucket idle this long is full again). */
  per: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function bucketParams(cfg: Pick<RateLimitConfig, 'requests' | 'per'>): BucketParams {
  const requests = Math.max(1, Math.round(cfg.requests));
  // `per: 0s` passes the duration parser; treat it as 1 ms rather than divide by zero.
  const per = Math.max(1, Math.round(cfg.per));
  const g = gcd(requests, per);
  return { limit: requests, cap: (requests / g) * per, cost: per / g, refill: requests / g, per };
}

/** The answer for a bucket left at `level` units after the take (or the refusal). */
export function rateResult(p: BucketParams, allowed: boolean, level: number): RateResult {
  return {
    allowed,
    limit: p.limit,
    remaining: Math.floor(level / p.cost),
    resetSeconds: Math.ceil((p.cap - level) / p.refill / 1000),
    // At least 1: `Retry-After: 0` would invite an immediate retry that fails again.
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((p.cost - level) / p.refill / 1000)),
  };
}
