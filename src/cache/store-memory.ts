/**
 * The in-process store on `lru-cache`: bounded by bytes (`maxSize` with a size per entry), the
 * least recently used entry evicted first, a TTL per entry. An entry over `maxEntrySize` is not
 * stored and evicts nothing (lru-cache's rule for oversize sets).
 *
 * `now` is injectable (tests age entries without sleeping); lru-cache then uses it for TTLs too.
 */
import type { LRUCache } from 'lru-cache';
import { entrySize, type CacheEntry } from './entry.js';
import type { CacheStore, StoreEvents } from './store.js';

export interface MemoryStoreOptions extends StoreEvents {
  maxSize: number;
  maxEntrySize: number;
  /** Clock in ms since the epoch; default Date.now. */
  now?: () => number;
}

type LruClass = typeof LRUCache;
let lru: Promise<LruClass> | undefined;

/** Loaded with the first cache, not at startup: configs without a cache never pay for it. */
function loadLru(): Promise<LruClass> {
  lru ??= import('lru-cache').then((m) => ((m as unknown as { default?: { LRUCache: LruClass } }).default ?? m).LRUCache);
  return lru;
}

export async function createMemoryStore(opts: MemoryStoreOptions): Promise<CacheStore> {
  const LRU = await loadLru();
  const now = opts.now ?? Date.now;
  const cache = new LRU<string, CacheEntry>({
    maxSize: Math.max(1, opts.maxSize),
    // The recorder enforces maxEntrySize on the body; the slack covers headers and bookkeeping.
    maxEntrySize: Math.max(1, Math.min(opts.maxEntrySize + 64 * 1024, opts.maxSize)),
    sizeCalculation: (e) => Math.max(1, entrySize(e)),
    // Expired entries are dropped when read (or pushed out by size); no timer per entry.
    ttlAutopurge: false,
    allowStale: false,
    updateAgeOnGet: false,
    // With an injected clock, lru-cache must not cache "now" for a real millisecond.
    ...(opts.now ? { perf: { now: opts.now }, ttlResolution: 0 } : {}),
    dispose: (_v, _k, reason) => {
      if (reason === 'evict') opts.onEvict?.();
    },
  });
  return {
    kind: 'memory',
    get: (key) => cache.get(key),
    set(key, entry, ttlMs) {
      cache.set(key, entry, { ttl: Math.max(1, Math.round(ttlMs)) });
    },
    now,
    stats: () => ({ bytes: cache.calculatedSize, entries: cache.size }),
    async close() {
      cache.clear();
    },
  };
}
