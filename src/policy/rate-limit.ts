/**
 * Token-bucket rate limiting (spec §3 `rateLimit`, §4 step 6). The core builds one limiter per
 * limited route, derives the key with `rateLimitKey()` (rate-limit-key.ts), calls `consume(key)`
 * per request and turns the result into `RateLimit-Limit/-Remaining/-Reset` headers, and when
 * !allowed into 429 `rate_limited` with `Retry-After`.
 *
 * Stores: `memory` (sync, per process: rate-limit-memory.ts) and `redis://…` (async, shared by
 * every relay using the same Redis: rate-limit-redis.ts). docs/rate-limits.md has the details.
 */
import type { RateLimitConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { RateResult } from './rate-limit-bucket.js';
import { createMemoryLimiter } from './rate-limit-memory.js';
import { createRedisLimiter } from './rate-limit-redis.js';
import { sharedRedisRegistry, type RedisRegistry } from './redis-registry.js';

export type { RateResult } from './rate-limit-bucket.js';
export { rateLimitKey } from './rate-limit-key.js';

export interface RateLimiter {
  /** Synchronous for the memory store (hot path); a Promise for Redis. */
  consume(key: string): RateResult | Promise<RateResult>;
  close(): Promise<void>;
}

export interface RateLimiterOptions {
  /** Route name: bucket keys are namespaced by it. */
  route: string;
  log: Logger;
  /** Memory store clock (monotonic ms). Redis uses the Redis server's clock. */
  now?: () => number;
  /** Redis connections; default: one process-wide registry (one connection per URL). */
  redis?: RedisRegistry;
}

export function createRateLimiter(cfg: RateLimitConfig, opts: RateLimiterOptions): RateLimiter {
  if (cfg.store === 'memory') return createMemoryLimiter(cfg, { now: opts.now });
  return createRedisLimiter(cfg, { route: opts.route, log: opts.log, registry: opts.redis ?? sharedRedisRegistry() });
}

/** Response headers for a limited route (IETF draft RateLimit header fields). */
export function rateLimitHeaders(r: RateResult): Record<string, string> {
  const h: Record<string, string> = {
    'RateLimit-Limit': String(r.limit),
    'RateLimit-Remaining': String(r.remaining),
    'RateLimit-Reset': String(r.resetSeconds),
  };
  if (!r.allowed) h['Retry-After'] = String(r.retryAfterSeconds);
  return h;
}
