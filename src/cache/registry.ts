/**
 * The relay's cache store, kept across config reloads: a reload that keeps the top-level `cache`
 * settings hands the same store (and its entries, and its flights in progress) to the new route
 * table; a changed setting opens a new store and the old one closes with the last table using it.
 * Nothing is created for a config in which no route caches.
 */
import type { CacheConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { sharedRedisRegistry, type RedisRegistry } from '../policy/redis-registry.js';
import type { Flight } from './flight.js';
import { createMemoryStore } from './store-memory.js';
import { createRedisStore } from './store-redis.js';
import type { CacheStore } from './store.js';
import { ChurnMap } from '../util/churn-map.js';

export interface CacheEvents {
  onEvict(): void;
  /** A store operation failed or timed out (the request was served from upstream). */
  onStoreError(op: 'get' | 'set'): void;
}

export interface SharedCache {
  store: CacheStore;
  events: CacheEvents;
  /** Identical requests in flight, by key (per process). */
  flights: ChurnMap<Flight>;
  maxEntrySize: number;
  release(): Promise<void>;
}

export interface CacheRegistryOptions {
  redis?: RedisRegistry;
  /** Clock for the memory store (tests). */
  now?: () => number;
}

export class CacheRegistry {
  private readonly open = new Map<string, { shared: Promise<Omit<SharedCache, 'release'>>; value?: Omit<SharedCache, 'release'>; refs: number }>();
  private events: CacheEvents = { onEvict() {}, onStoreError() {} };

  constructor(private readonly opts: CacheRegistryOptions = {}) {}

  /** Where evictions are counted (the relay's metrics). */
  setEvents(events: CacheEvents): void {
    this.events = events;
  }

  async acquire(cfg: CacheConfig, log: Logger): Promise<SharedCache> {
    const spec = JSON.stringify(cfg);
    let slot = this.open.get(spec);
    if (!slot) {
      slot = { shared: this.create(cfg, log), refs: 0 };
      this.open.set(spec, slot);
    }
    slot.refs++;
    const s = slot;
    let released = false;
    const inner = await s.shared;
    s.value = inner;
    return {
      ...inner,
      release: async () => {
        if (released) return;
        released = true;
        if (--s.refs > 0) return;
        if (this.open.get(spec) === s) this.open.delete(spec);
        await inner.store.close();
      },
    };
  }

  private async create(cfg: CacheConfig, log: Logger): Promise<Omit<SharedCache, 'release'>> {
    const store =
      cfg.store === 'memory'
        ? await createMemoryStore({ maxSize: cfg.maxSize, maxEntrySize: cfg.maxEntrySize, onEvict: () => this.events.onEvict(), ...(this.opts.now ? { now: this.opts.now } : {}) })
        : createRedisStore(cfg.store, { registry: this.opts.redis ?? sharedRedisRegistry(), log, timeoutMs: cfg.timeout });
    // Events are read through the registry at call time: setEvents() may come after acquire().
    const events: CacheEvents = { onEvict: () => this.events.onEvict(), onStoreError: (op) => this.events.onStoreError(op) };
    return { store, events, flights: new ChurnMap<Flight>(), maxEntrySize: cfg.maxEntrySize };
  }

  /** Bytes and entries of the open memory stores (scrape time). */
  stats(): { bytes: number; entries: number } {
    let bytes = 0;
    let entries = 0;
    for (const slot of this.open.values()) {
      const s = slot.value?.store.stats();
      if (s) {
        bytes += s.bytes;
        entries += s.entries;
      }
    }
    return { bytes, entries };
  }
}
