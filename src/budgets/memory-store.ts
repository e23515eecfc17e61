/**
 * `budgets.store: memory`: spend in this process only. Bounded: at most `maxCallers` keys (one
 * per caller, budget and window), the least recently used dropped first — a flood of new IPs
 * can cost an old caller its count, never the relay its memory. A key past its window's end is
 * treated as empty.
 */
import type { BudgetStore, HoldLine, HoldOutcome, LineState, SettleLine } from './store.js';

interface Entry {
  used: number;
  holds: Map<string, { amount: number; until: number }>;
  expireAt: number;
}

export class MemoryBudgetStore implements BudgetStore {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxCallers: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Entries kept (tests). */
  get size(): number {
    return this.entries.size;
  }

  private entry(key: string, expireAt: number, now: number, create: boolean): Entry | undefined {
    let e = this.entries.get(key);
    if (e && now >= e.expireAt) {
      this.entries.delete(key);
      e = undefined;
    }
    if (e) {
      // Map order is the LRU order: touch by re-inserting.
      this.entries.delete(key);
      this.entries.set(key, e);
      return e;
    }
    if (!create) return undefined;
    e = { used: 0, holds: new Map(), expireAt };
    this.entries.set(key, e);
    while (this.entries.size > this.maxCallers) this.entries.delete(this.entries.keys().next().value!);
    return e;
  }

  private held(e: Entry, now: number): number {
    let h = 0;
    for (const [id, hold] of e.holds) {
      if (hold.until <= now) e.holds.delete(id);
      else h += hold.amount;
    }
    return h;
  }

  async hold(id: string, lines: HoldLine[], holdTtlMs: number): Promise<HoldOutcome> {
    const now = this.now();
    // Each entry looked up (and touched) once: the second pass below reuses it.
    const found = lines.map((l) => this.entry(l.key, l.expireAt, now, false));
    const states = found.map((e) => ({ used: e?.used ?? 0, held: e ? this.held(e, now) : 0 }));
    for (let i = 0; i < lines.length; i++) {
      const s = states[i]!;
      if (s.used + s.held >= lines[i]!.limit) return { ok: false, index: i, used: s.used, held: s.held };
    }
    return {
      ok: true,
      lines: lines.map((l, i) => {
        const s = states[i]!;
        const e = found[i] ?? this.entry(l.key, l.expireAt, now, true)!;
        const hold = Math.min(l.amount, l.limit - s.used - s.held);
        if (l.requests) {
          e.used += hold;
          return { used: s.used + hold, held: s.held, hold };
        }
        e.holds.set(id, { amount: hold, until: now + holdTtlMs });
        return { used: s.used, held: s.held + hold, hold };
      }),
    };
  }

  async settle(id: string, lines: SettleLine[]): Promise<void> {
    const now = this.now();
    for (const l of lines) {
      // A window that ended meanwhile is gone: the charge belongs to it and goes with it.
      const e = this.entry(l.key, l.expireAt, now, l.expireAt > now);
      if (!e) continue;
      e.holds.delete(id);
      e.used += l.charge;
    }
  }

  async peek(keys: string[]): Promise<LineState[]> {
    const now = this.now();
    return keys.map((k) => {
      const e = this.entries.get(k);
      if (!e || now >= e.expireAt) return { used: 0, held: 0 };
      return { used: e.used, held: this.held(e, now) };
    });
  }

  async close(): Promise<void> {}
}
