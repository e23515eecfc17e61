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
  close(): void;
}
