/**
 * Token-bucket rate limiting (spec §4 step 6).
 * STUB: the rate-limit implementation (issue #4) replaces this with memory and Redis stores.
 */
import type { RateLimitConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';

export interface RateResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** Seconds until one request is allowed (only meaningful when !allowed). */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Synchronous for the memory store (hot path); a Promise for Redis. */
  consume(key: string): RateResult | Promise<RateResult>;
  close(): Promise<void>;
}

export interface RateLimiterOptions {
  /** Route name: bucket keys are namespaced by it. */
  route: string;
  log: Logger;
  now?: () => number;
}

export function createRateLimiter(cfg: RateLimitConfig, opts: RateLimiterOptions): RateLimiter {
  const now = opts.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const rate = cfg.requests / cfg.per; // tokens per ms
  return {
    consume(key) {
      const t = now();
      const b = buckets.get(key) ?? { tokens: cfg.requests, at: t };
      b.tokens = Math.min(cfg.requests, b.tokens + (t - b.at) * rate);
      b.at = t;
      const allowed = b.tokens >= 1;
      if (allowed) b.tokens -= 1;
      buckets.set(key, b);
      return {
        allowed,
        limit: cfg.requests,
        remaining: Math.floor(b.tokens),
        resetSeconds: Math.ceil((cfg.requests - b.tokens) / rate / 1000),
        retryAfterSeconds: allowed ? 0 : Math.ceil((1 - b.tokens) / rate / 1000),
      };
    },
    async close() {},
  };
}
