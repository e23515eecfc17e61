/**
 * Whose budget a request spends (`by`). A user is `<client>:<claim value>` (two JWT issuers never
 * share a user); without a user (shared token, open route) `by: user` falls back to the IP, as
 * does `by: client` on an open route. The fallback id keeps its `ip:` prefix, so it never meets a
 * client or user named like an address.
 */
import { ipBucket } from '../policy/rate-limit-key.js';

export type BudgetBy = 'user' | 'client' | 'ip';

export interface Caller {
  client: string | undefined;
  user: string | undefined;
  ip: string;
}

export function budgetCallerId(by: BudgetBy, c: Caller): string {
  if (by === 'user' && c.user !== undefined && c.client !== undefined) return `user:${c.client}:${c.user}`;
  if (by === 'client' && c.client !== undefined) return `client:${c.client}`;
  return `ip:${ipBucket(c.ip)}`;
}
