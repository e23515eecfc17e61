/**
 * `store: redis://…` — buckets live in Redis, so every relay behind a load balancer (and every
 * `--workers` process) spends from the same bucket. Key: `ai-relay:rl:<route>:<key>`.
 *
 * When Redis cannot answer within the store's deadline, `onStoreError` decides: `open` (default)
 * lets the request through — an outage of the limiter must not become an outage of the relay —
 * and `closed` refuses it with 429. Either way the result carries `storeError: true`.
 */
import type { RateLimitConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { bucketParams, rateResult, type RateResult } from './rate-limit-bucket.js';
import type { RedisRegistry } from './redis-registry.js';

export interface RedisLimiter {
  consume(key: string): Promise<RateResult>;
  close(): Promise<void>;
}

export function createRedisLimiter(
  cfg: RateLimitConfig,
  opts: { route: string; log: Logger; registry: RedisRegistry },
): RedisLimiter {
  const p = bucketParams(cfg);
  const store = opts.registry.acquire(cfg.store, opts.log);
  const prefix = `ai-relay:rl:${opts.route}:`;
  const failOpen = cfg.onStoreError !== 'closed';
  let closed = false;

  return {
    async consume(key) {
      try {
        const [allowed, level] = await store.take(prefix + key, p.cap, p.cost, p.refill);
        return rateResult(p, allowed, level);
      } catch {
        // The store logged the outage once; nothing per request here.
        return failOpen
          ? { allowed: true, limit: p.limit, remaining: p.limit, resetSeconds: 0, retryAfterSeconds: 0, storeError: true }
          : { allowed: false, limit: p.limit, remaining: 0, resetSeconds: 1, retryAfterSeconds: 1, storeError: true };
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await store.release();
    },
  };
}
