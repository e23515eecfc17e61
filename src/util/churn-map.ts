/**
 * A string-keyed map for entries that come and go at request rate (the cache's flights in
 * progress: one set and one delete per miss).
 *
 * Why not a plain `Map` of the values: with set/delete churn, V8 rehashes a Map's backing table
 * every few dozen operations, and once the table is in the old generation every replacement is
 * allocated there too. Each replaced table is dead but still points at the values it held, and
 * a scavenge treats those pointers as live until the next mark-compact. A flight holds its
 * recorder, the leader's exchange and the answer's chunks, so every miss's objects were promoted
 * (the same pathology as the Set of live exchanges, src/server/live-set.ts; measured in issue
 * #19/#17: ~9 KB promoted per miss). Here the table holds a small slot per key, and the slot's
 * value is cleared before the key is deleted: a stale table can keep only a key and an empty slot.
 */
interface Slot<V> {
  v: V | undefined;
}

export class ChurnMap<V extends object> {
  readonly #slots = new Map<string, Slot<V>>();

  get size(): number {
    return this.#slots.size;
  }

  get(key: string): V | undefined {
    return this.#slots.get(key)?.v;
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  set(key: string, value: V): void {
    const slot = this.#slots.get(key);
    if (slot) slot.v = value;
    else this.#slots.set(key, { v: value });
  }

  delete(key: string): boolean {
    const slot = this.#slots.get(key);
    if (!slot) return false;
    slot.v = undefined; // first: a stale copy of the table must not reach the value
    this.#slots.delete(key);
    return true;
  }
}
