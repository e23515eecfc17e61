/**
 * Upstream credentials that change per request: a key pool or an OAuth token (spec §3 `keys`,
 * `oauth`). A lease is taken per attempt; the upstream's answer is reported back so a rejected
 * key rests or a revoked token is dropped, and the forwarder may retry once on a fresh lease.
 */
import type { RelayError } from '../../errors.js';

export interface Lease {
  header: string;
  value: string;
  /** Key index for logs (pools only). */
  keyIndex?: number;
  /** Tell the source how the upstream answered. 'retry': try again with a new lease. */
  report(status: number, headers: Record<string, string | string[] | undefined>): 'ok' | 'retry';
}

export interface CredentialSource {
  kind: 'keys' | 'oauth';
  /** Largest request body kept in memory so the request can be replayed on a new lease. */
  replayLimit: number;
  lease(): Lease | Promise<Lease> | RelayError;
  /** Readiness detail: undefined when healthy, else why the source is failing. */
  problem(): string | undefined;
  /** What the dashboard shows (read when a snapshot is built, never per request); never a secret. */
  describe?(): CredentialView;
  close(): void;
}

/** One key of a pool as the dashboard shows it: a fingerprint, never the key. */
export interface KeyView {
  /** `#<index> <first 4 hex of SHA-256(key)>`. */
  alias: string;
  /** Epoch ms until which the key rests after 401/403/429; 0 when serving. */
  restingUntil: number;
  lastError: { status: number; at: number } | undefined;
}

export type CredentialView =
  | { kind: 'keys'; keys: KeyView[] }
  | { kind: 'oauth'; expiresAt: number | undefined; lastRefreshAt: number | undefined; lastError: string | undefined };
