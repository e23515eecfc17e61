/**
 * The set of live objects the relay tracks at request rate: in-flight exchanges, open sockets.
 *
 * Why not a JS `Set`: with add/delete churn, V8 rehashes a Set's backing table each time the
 * table fills up with deleted entries (every few dozen requests here). Once a table has been
 * promoted to the old generation (one full GC while requests are in flight is enough), every
 * later table is allocated there too, and each dead one still points at the exchanges it held
 * when it was replaced. Scavenges treat those stale pointers as live, so nearly every
 * exchange's objects were promoted (2.5 MB per scavenge instead of 0.1 MB), which cost 15-25 %
 * CPU per request (docs/benchmarks.md, "The Set that promoted every exchange").
 *
 * An array with swap-remove holds only live items. It allocates only when it grows, and no
 * old array is left holding items.
 */
export class LiveSet<T extends object> implements Iterable<T> {
  #items: T[] = [];
  /** Where each item sits in #items, kept on the item itself (one key per set). */
  readonly #slot = Symbol('ai-relay.liveSlot');

  get size(): number {
    return this.#items.length;
  }

  add(item: T): void {
    if (this.has(item)) return;
    slots(item)[this.#slot] = this.#items.length;
    this.#items.push(item);
  }

  has(item: T): boolean {
    const i = slots(item)[this.#slot];
    return i !== undefined && i >= 0 && this.#items[i] === item;
  }

  delete(item: T): boolean {
    if (!this.has(item)) return false;
    const i = slots(item)[this.#slot]!;
    const last = this.#items.pop()!;
    if (last !== item) {
      this.#items[i] = last;
      slots(last)[this.#slot] = i;
    }
    slots(item)[this.#slot] = -1;
    return true;
  }

  /** Iterates a copy: items may finish (and be deleted) while a caller walks the set. */
  [Symbol.iterator](): Iterator<T> {
    return this.#items.slice()[Symbol.iterator]();
  }
}

function slots(item: object): Record<symbol, number | undefined> {
  return item as Record<symbol, number | undefined>;
}
