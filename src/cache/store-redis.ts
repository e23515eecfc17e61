/**
 * The shared store: entries in Redis through the relay's connection registry (one connection per
 * URL, shared with rate limits when they name the same URL — which docs/cache.md advises
 * against: the cache wants `maxmemory` + `allkeys-lru`, budgets and buckets need `noeviction`).
 *
 * Keys are `ai-relay:c:<sha256 hex>`: a digest, never a prompt or an identity. Every entry is
 * written with `SET … PX <ttl>`, so nothing lives forever. Each operation has its own deadline
 * (200 ms by default); a slow or dead Redis rejects, and the caller serves from upstream.
 */
import type { Logger } from '../log/logger.js';
import type { RedisRegistry } from '../policy/redis-registry.js';
import { decodeEntry, encodeEntry } from './entry.js';
import type { CacheStore } from './store.js';

export const REDIS_PREFIX = 'ai-relay:c:';

export function createRedisStore(url: string, opts: { registry: RedisRegistry; log: Logger; timeoutMs: number }): CacheStore {
  const conn = opts.registry.acquire(url, opts.log, 'cache store');
  let closed = false;
  return {
    kind: 'redis',
    async get(key) {
      const raw = await conn.run((c) => c.getBuffer(REDIS_PREFIX + key), opts.timeoutMs);
      // A value this relay cannot read (another version, corruption) is a miss, not an error.
      return raw ? decodeEntry(raw) : undefined;
    },
    async set(key, entry, ttlMs) {
      await conn.run((c) => c.set(REDIS_PREFIX + key, encodeEntry(entry), 'PX', Math.max(1, Math.round(ttlMs))), opts.timeoutMs);
    },
    now: Date.now,
    stats: () => undefined,
    async close() {
      if (closed) return;
      closed = true;
      await conn.release();
    },
  };
}
