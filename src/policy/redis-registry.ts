/**
 * One Redis connection per Redis URL, shared by every route (and every reloaded route table)
 * that names it: twenty limited routes do not need twenty connections. Reference-counted: the
 * connection closes when the last limiter using it is closed, so a config reload that keeps the
 * same URL hands the connection over instead of reconnecting.
 */
import type { Logger } from '../log/logger.js';
import { RedisStore } from './redis-store.js';

export interface RedisRegistry {
  /** A store for `url` with one more reference; call `store.release()` when done. */
  acquire(url: string, log: Logger, label?: string): RedisStore;
  /** Number of open connections (tests, metrics). */
  readonly size: number;
}

export function createRedisRegistry(opts: { timeoutMs?: number } = {}): RedisRegistry {
  const stores = new Map<string, RedisStore>();
  return {
    acquire(url, log, label) {
      let store = stores.get(url);
      if (!store) {
        const created: RedisStore = new RedisStore(url, {
          log,
          timeoutMs: opts.timeoutMs,
          ...(label ? { label } : {}),
          onIdle: () => {
            if (stores.get(url) === created) stores.delete(url);
          },
        });
        store = created;
        stores.set(url, store);
      }
      return store.acquire(log);
    },
    get size() {
      return stores.size;
    },
  };
}

let shared: RedisRegistry | undefined;

/** The process-wide registry, created on first use. */
export function sharedRedisRegistry(): RedisRegistry {
  shared ??= createRedisRegistry();
  return shared;
}
