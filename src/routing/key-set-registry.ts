/**
 * JWT issuers' remote key sets that outlive a config reload (spec §11). A key set is keyed by its
 * URL, cooldown and egress: a reload that leaves them unchanged hands the new table the very same
 * set, with its cached keys and its fetch schedule. Otherwise a reload during an identity
 * provider's outage would swap cached keys for an empty set and refuse every user with 503, and
 * every reload would refetch every set. The last table using a set closes it (and its pool).
 */
import type { RemoteKeySet } from '../policy/jwks.js';

interface Entry {
  keySet: RemoteKeySet;
  close: () => Promise<void>;
  refs: number;
}

export interface KeySetHandle {
  keySet: RemoteKeySet;
  /** Drops this table's reference; the last one closes the set's connection pool. */
  release(): Promise<void>;
}

export class KeySetRegistry {
  private entries = new Map<string, Entry>();

  acquire(key: string, create: () => { keySet: RemoteKeySet; close: () => Promise<void> }): KeySetHandle {
    let e = this.entries.get(key);
    if (!e) {
      e = { ...create(), refs: 0 };
      this.entries.set(key, e);
    }
    e.refs++;
    const entry = e;
    let released = false;
    return {
      keySet: entry.keySet,
      release: async () => {
        if (released) return;
        released = true;
        if (--entry.refs > 0) return;
        if (this.entries.get(key) === entry) this.entries.delete(key);
        await entry.close();
      },
    };
  }

  /** Key sets currently alive (for tests and debugging). */
  get size(): number {
    return this.entries.size;
  }
}
