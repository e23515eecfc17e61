/**
 * Rate limiters that outlive a config reload. A limiter is keyed by route name + its `rateLimit`
 * settings: a reload that leaves both unchanged hands the new table the very same buckets, so
 * reloading (or editing an unrelated route) never gives every client a fresh allowance. Changed
 * settings get a new limiter; the old one closes when the last table using it is disposed.
 */
import type { RateLimitConfig } from '../config/schema.js';
import type { RateLimiter } from '../policy/rate-limit.js';

interface Entry {
  limiter: RateLimiter;
  refs: number;
}

export class LimiterRegistry {
  private entries = new Map<string, Entry>();

  /** A handle on the shared limiter; its close() drops this table's reference. */
  acquire(route: string, cfg: RateLimitConfig, create: () => RateLimiter): RateLimiter {
    // zod emits keys in schema order, so JSON.stringify is a stable identity for the settings.
    const key = `${route}\u0000${JSON.stringify(cfg)}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { limiter: create(), refs: 0 };
      this.entries.set(key, e);
    }
    e.refs++;
    const entry = e;
    let released = false;
    return {
      consume: entry.limiter.consume.bind(entry.limiter),
      close: async () => {
        if (released) return;
        released = true;
        if (--entry.refs > 0) return;
        if (this.entries.get(key) === entry) this.entries.delete(key);
        await entry.limiter.close();
      },
    };
  }

  /** Limiters currently alive (for tests and debugging). */
  get size(): number {
    return this.entries.size;
  }
}
