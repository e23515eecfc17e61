/**
 * Client auth (spec §4 step 5, §10, §11). The token comes from `X-Proxy-Token` or
 * `Authorization: Bearer` (never the query string). Shared tokens are compared as SHA-256 digests
 * with timingSafeEqual, so neither content nor length leaks through timing; that path stays
 * synchronous (no Promise per request). A token that is not a shared token of the route but has
 * the shape of a JWT goes to the route's JWT clients, chosen by its (unverified) `iss`; only then
 * does the check become asynchronous.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { RelayError } from '../errors.js';
import type { JwtClient } from './jwt.js';
import { invalidToken, looksLikeJwt, peekPayload } from './jwt-token.js';

export interface AuthResult {
  client: string;
  /** The verified user (JWT clients only): the value of the client's user claim. */
  user?: string;
  /** Header that carried the relay token (or JWT); it is not forwarded upstream. */
  via: 'x-proxy-token' | 'authorization';
}

export type AuthOutcome = AuthResult | RelayError;

export interface AuthPolicy {
  open: boolean;
  /** Synchronous for shared tokens and refusals; a Promise only when a JWT is verified. */
  check(headers: IncomingHttpHeaders): AuthOutcome | Promise<AuthOutcome> | undefined;
  /** Readiness: why a JWT client of this route cannot verify tokens (its key set cannot be fetched). */
  problem(): string | undefined;
  /** The JWT clients this route admits (for `check` and the banner). */
  jwtClients: readonly JwtClient[];
}

// One-shot crypto.hash: no Hash object per request (about 2.5x cheaper than createHash here).
const digest = (s: string): Buffer => hash('sha256', s, 'buffer');

const OPEN: AuthPolicy = { open: true, check: () => undefined, problem: () => undefined, jwtClients: [] };

const MISSING_HEADERS = { 'www-authenticate': 'Bearer realm="ai-relay"' };

export interface AuthClients {
  /** name → shared token (clients with unset variables excluded). */
  tokens: Record<string, string>;
  /** name → JWT client (clients with unset variables excluded). */
  jwt?: ReadonlyMap<string, JwtClient>;
}

/** `spec`: the route's `auth` (client names, or `none`). */
export function compileAuth(spec: 'none' | string[], clients: AuthClients): AuthPolicy {
  if (spec === 'none') return OPEN;
  const { tokens } = clients;
  const allowed = spec.filter((n) => tokens[n]).map((n) => ({ name: n, hash: digest(tokens[n]!) }));
  const jwtClients = spec.map((n) => clients.jwt?.get(n)).filter((c): c is JwtClient => c !== undefined);
  const find = (presented: string): string | undefined => {
    const h = digest(presented);
    let found: string | undefined;
    // Compare against every token (no early exit) so the position of a match does not leak.
    for (const t of allowed) if (timingSafeEqual(h, t.hash) && found === undefined) found = t.name;
    return found;
  };
  // Any relay token or JWT of a known issuer, on this route or not: one riding in Authorization
  // next to a valid X-Proxy-Token must still never travel upstream (spec §4 step 5, §11).
  const relayTokens = Object.values(tokens).map(digest);
  const issuers = new Set([...(clients.jwt?.values() ?? [])].map((c) => c.issuer));
  const isRelayBearer = (a: unknown): boolean => {
    if (typeof a !== 'string' || a.length <= 7 || a.slice(0, 7).toLowerCase() !== 'bearer ') return false;
    const t = a.slice(7).trim();
    const h = digest(t);
    let hit = false;
    for (const d of relayTokens) if (timingSafeEqual(h, d)) hit = true;
    if (!hit && issuers.size && looksLikeJwt(t)) {
      const iss = peekPayload(t)?.iss;
      hit = typeof iss === 'string' && issuers.has(iss);
    }
    return hit;
  };

  const viaJwt = (token: string, via: AuthResult['via'], header: string): AuthOutcome | Promise<AuthOutcome> => {
    if (!jwtClients.length || !looksLikeJwt(token)) return invalidToken(`not a relay token of this route (${header})`);
    const payload = peekPayload(token);
    if (!payload) return invalidToken('malformed JWT');
    // Several issuers on one route: the unverified `iss` only chooses whose keys, audience and
    // algorithms verify the token; a forged `iss` then fails that issuer's signature check.
    const candidates = jwtClients.filter((c) => c.issuer === payload.iss);
    if (!candidates.length) return invalidToken('issuer is not accepted on this route');
    // A token verified in the last minute (and still within its exp/nbf): answered synchronously.
    for (const c of candidates) {
      const user = c.cached(token);
      if (user !== undefined) return { client: c.name, user, via };
    }
    return verifyWith(candidates, token, payload, via);
  };

  return {
    open: false,
    jwtClients,
    problem() {
      for (const c of jwtClients) {
        const p = c.keySet?.problem();
        if (p) return `JWT client ${c.name}: ${p}`;
      }
      return undefined;
    },
    check(headers) {
      const x = headers['x-proxy-token'];
      if (typeof x === 'string' && x.length) {
        // The upstream header plan always drops X-Proxy-Token; naming Authorization drops both.
        const via = isRelayBearer(headers.authorization) ? 'authorization' : 'x-proxy-token';
        const c = find(x);
        if (c) return { client: c, via };
        return viaJwt(x.trim(), via, 'X-Proxy-Token');
      }
      const a = headers.authorization;
      if (typeof a === 'string' && a.length > 7 && a.slice(0, 7).toLowerCase() === 'bearer ') {
        const t = a.slice(7).trim();
        const c = find(t);
        if (c) return { client: c, via: 'authorization' };
        return viaJwt(t, 'authorization', 'Authorization: Bearer');
      }
      return new RelayError('unauthorized', 'relay token required: send X-Proxy-Token or Authorization: Bearer <token>', { headers: MISSING_HEADERS });
    },
  };
}

async function verifyWith(candidates: JwtClient[], token: string, payload: NonNullable<ReturnType<typeof peekPayload>>, via: AuthResult['via']): Promise<AuthOutcome> {
  let first: RelayError | undefined;
  // Usually one candidate; two clients may share an issuer with different audiences or claims.
  for (const c of candidates) {
    const r = await c.verify(token, payload);
    if (typeof r === 'string') return { client: c.name, user: r, via };
    // A key set that cannot be fetched outranks a refusal: the token may well be good.
    if (!first || r.type === 'auth_unavailable') first = r;
  }
  return first!;
}
