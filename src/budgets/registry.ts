/**
 * Budget stores that outlive a config reload: the memory store is one per process (per
 * `maxCallers`), so reloading never hands every caller a fresh budget; Redis stores share the
 * connection registry of the rate limiter (one connection per URL).
 */
import type { BudgetsConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { sharedRedisRegistry, type RedisRegistry } from '../policy/redis-registry.js';
import { MemoryBudgetStore } from './memory-store.js';
import { RedisBudgetStore } from './redis-store.js';
import type { BudgetStore } from './store.js';

export class BudgetStoreRegistry {
  private memory = new Map<number, { store: MemoryBudgetStore; refs: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly redis: RedisRegistry = sharedRedisRegistry(),
  ) {}

  /** A handle on the store for `cfg`; its close() drops this table's reference. */
  acquire(cfg: BudgetsConfig, log: Logger): BudgetStore {
    if (cfg.store !== 'memory') return new RedisBudgetStore(this.redis.acquire(cfg.store, log));
    let e = this.memory.get(cfg.maxCallers);
    if (!e) {
      e = { store: new MemoryBudgetStore(cfg.maxCallers, this.now), refs: 0 };
      this.memory.set(cfg.maxCallers, e);
    }
    e.refs++;
    const entry = e;
    let released = false;
    return {
      hold: (id, lines, ttl) => entry.store.hold(id, lines, ttl),
      settle: (id, lines) => entry.store.settle(id, lines),
      peek: (keys) => entry.store.peek(keys),
      close: async () => {
        if (released) return;
        released = true;
        if (--entry.refs > 0) return;
        if (this.memory.get(cfg.maxCallers) === entry) this.memory.delete(cfg.maxCallers);
      },
    };
  }
}
