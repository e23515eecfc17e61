/**
 * Client tokens (spec §4 step 5, §10). Tokens are compared as SHA-256 digests with
 * timingSafeEqual, so neither content nor length leaks through timing.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { RelayError } from '../errors.js';

export interface AuthResult {
  client: string;
  /** Header that carried the relay token; it is not forwarded upstream. */
  via: 'x-proxy-token' | 'authorization';
}

export interface AuthPolicy {
  open: boolean;
  check(headers: IncomingHttpHeaders): AuthResult | RelayError | undefined;
}

// One-shot crypto.hash: no Hash object per request (about 2.5x cheaper than createHash here).
const digest = (s: string): Buffer => hash('sha256', s, 'buffer');

const OPEN: AuthPolicy = { open: true, check: () => undefined };

/** `tokens`: name → token for the clients this route admits (clients with unset variables excluded). */
export function compileAuth(spec: 'none' | string[], tokens: Record<string, string>): AuthPolicy {
  if (spec === 'none') return OPEN;
  const allowed = spec.filter((n) => tokens[n]).map((n) => ({ name: n, hash: digest(tokens[n]!) }));
  const find = (presented: string): string | undefined => {
    const h = digest(presented);
    let found: string | undefined;
    // Compare against every token (no early exit) so the position of a match does not leak.
    for (const t of allowed) if (timingSafeEqual(h, t.hash) && found === undefined) found = t.name;
    return found;
  };
  // Any relay token, on this route or not: one riding in Authorization next to a valid
  // X-Proxy-Token must still never travel upstream (spec §4 step 5).
  const relayTokens = Object.values(tokens).map(digest);
  const isRelayBearer = (a: unknown): boolean => {
    if (typeof a !== 'string' || a.length <= 7 || a.slice(0, 7).toLowerCase() !== 'bearer ') return false;
    const h = digest(a.slice(7).trim());
    let hit = false;
    for (const t of relayTokens) if (timingSafeEqual(h, t)) hit = true;
    return hit;
  };
  const unauthorized = (msg: string) => new RelayError('unauthorized', msg, { headers: { 'www-authenticate': 'Bearer realm="ai-relay"' } });
  return {
    open: false,
    check(headers) {
      const x = headers['x-proxy-token'];
      if (typeof x === 'string' && x.length) {
        const c = find(x);
        if (!c) return unauthorized('invalid relay token (X-Proxy-Token)');
        // The upstream header plan always drops X-Proxy-Token; naming Authorization drops both.
        return { client: c, via: isRelayBearer(headers.authorization) ? 'authorization' : 'x-proxy-token' };
      }
      const a = headers.authorization;
      if (typeof a === 'string' && a.length > 7 && a.slice(0, 7).toLowerCase() === 'bearer ') {
        const c = find(a.slice(7).trim());
        if (c) return { client: c, via: 'authorization' };
        return unauthorized('invalid relay token (Authorization: Bearer)');
      }
      return unauthorized('relay token required: send X-Proxy-Token or Authorization: Bearer <token>');
    },
  };
}
