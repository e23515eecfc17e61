/** What a response-cache store offers. A store never decides cacheability; it only keeps bytes. */
import type { CacheEntry } from './entry.js';

export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  /** The entry, or undefined. Rejects when the store cannot answer (the caller fails open). */
  get(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  /** Keep `entry` for `ttlMs`. Rejects when the store cannot answer (the caller counts it). */
  set(key: string, entry: CacheEntry, ttlMs: number): void | Promise<void>;
  /** The clock entries are stamped and aged with (ms since the epoch). */
  now(): number;
  /** Bytes and entries held (memory store; undefined for Redis, whose INFO tells). */
  stats(): { bytes: number; entries: number } | undefined;
  close(): Promise<void>;
}

export interface StoreEvents {
  /** An entry was evicted to make room (not expired, not replaced). */
  onEvict?(): void;
}
