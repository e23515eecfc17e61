/**
 * JWT clients (spec §11): one verifier per `clients.<name>.jwt`, built when the route table is
 * compiled and shared by every route that lists the client (so one issuer has one key set and one
 * fetch schedule, whatever the number of routes).
 *
 * Verification is jose's `jwtVerify` with everything pinned: the issuer's algorithms (never
 * `none`; HMAC only with a secret, so a public key can never be replayed as an HMAC secret),
 * exact `iss`, `aud` unless `audience: none`, and `exp` plus the user claim required (jose checks
 * `exp` only when present). `azp` and `claims` are checked here after jose.
 *
 * Verified tokens are remembered (docs/identity.md, "Verified-token cache"): an ES256 signature
 * check costs far more than the rest of a proxied request, and a browser sends the same token
 * with every request until it is refreshed. Entry key: SHA-256 of the token string (the token
 * itself is never kept); value: the verified user; lifetime: at most 60 s from the verification,
 * never past the token's own `exp` (+ clockTolerance, exactly as jose accepts it) nor before its
 * `nbf`; at most 10,000 entries, least recently used dropped first. The cache belongs to one
 * client of one compiled table, so a reload starts empty, and it is cleared whenever the
 * issuer's key set is fetched anew (a rotation): a token whose key was removed from the JWKS is
 * accepted for at most 60 s more. Only successes are cached: a refused token is verified again.
 */
import { createPublicKey, hash, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jwtVerify, type JWTPayload } from 'jose';
import type { JwtClientConfig } from '../config/schema.js';
import { RelayError } from '../errors.js';
import { invalidToken } from './jwt-token.js';
import { createRemoteKeySet, KeySetUnavailable, type KeyResolver, type RemoteKeySet } from './jwks.js';

export interface JwtClient {
  name: string;
  issuer: string;
  config: JwtClientConfig;
  /** The remote key set (`jwks` clients only). */
  keySet: RemoteKeySet | undefined;
  /** The user claim's value, or the RelayError to answer (401 invalid_token, 503 auth_unavailable). */
  verify(token: string, payload: Record<string, unknown>): Promise<string | RelayError>;
  /**
   * The user of a token verified before and still within its cache lifetime, synchronously;
   * undefined when it has to be verified (`verify`).
   */
  cached(token: string): string | undefined;
  /** Counters (tests, diagnostics): signature verifications run, and tokens answered from the cache. */
  readonly stats: { verifications: number; cacheHits: number; cached: number };
}

/** Verified-token cache bounds (docs/identity.md). */
export const VERIFIED_CACHE_MAX_ENTRIES = 10_000;
export const VERIFIED_CACHE_MAX_MS = 60_000;

interface Verified {
  user: string;
  /** Epoch ms: the entry is used only while now < until. */
  until: number;
  /** Epoch ms: and only while now >= from (the token's nbf minus clockTolerance; 0 when none). */
  from: number;
}

export interface JwtClientDeps {
  /** Directory that a relative `publicKey` path is resolved against. */
  configDir: string;
  /** The issuer's remote key set (`jwks` clients), shared across routes and reloads. */
  keySet?: RemoteKeySet;
  /** Clock in epoch ms for the verified-token cache (tests); default Date.now. jose keeps its own. */
  now?: () => number;
}

export function createJwtClient(name: string, cfg: JwtClientConfig, deps: JwtClientDeps): JwtClient {
  const audience = cfg.audience === 'none' ? undefined : cfg.audience;
  const keySet = cfg.jwks ? (deps.keySet ?? createRemoteKeySet(cfg.jwks, { cooldown: cfg.cooldown, timeout: 5000 })) : undefined;
  let key: KeyResolver | Uint8Array | KeyObject;
  if (keySet) key = keySet.getKey;
  else if (cfg.secret !== undefined) key = new TextEncoder().encode(cfg.secret);
  else key = readPublicKey(path.resolve(deps.configDir, cfg.publicKey!));
  const options = {
    issuer: cfg.issuer,
    ...(audience !== undefined ? { audience } : {}),
    algorithms: cfg.algorithms as string[],
    clockTolerance: Math.floor(cfg.clockTolerance / 1000),
    requiredClaims: ['exp', cfg.user],
  };
  const parties = cfg.authorizedParties?.length ? new Set(cfg.authorizedParties) : undefined;
  const claims = cfg.claims ? Object.entries(cfg.claims) : [];
  const now = deps.now ?? Date.now;
  const toleranceMs = options.clockTolerance * 1000;

  // Map order = recency: a hit moves its entry to the end, the first entry is the least recent.
  const verified = new Map<string, Verified>();
  // The key set the cached entries were verified with: a new fetch (rotation) clears them.
  let keysSeen = keySet?.current;
  const stats = { verifications: 0, cacheHits: 0, cached: 0 };
  const digest = (token: string): string => hash('sha256', token, 'base64');
  const checkKeys = (): void => {
    if (keySet && keySet.current !== keysSeen) {
      keysSeen = keySet.current;
      verified.clear();
    }
  };
  const remember = (token: string, user: string, payload: JWTPayload): void => {
    checkKeys();
    const t = now();
    // exp is required (requiredClaims), so always a number here; jose accepts it while
    // now < exp + tolerance, and so does the cache, never longer than 60 s from now.
    const until = Math.min(t + VERIFIED_CACHE_MAX_MS, typeof payload.exp === 'number' ? payload.exp * 1000 + toleranceMs : t);
    const from = typeof payload.nbf === 'number' ? payload.nbf * 1000 - toleranceMs : 0;
    if (until <= t) return;
    const k = digest(token);
    verified.delete(k);
    if (verified.size >= VERIFIED_CACHE_MAX_ENTRIES) verified.delete(verified.keys().next().value!);
    verified.set(k, { user, until, from });
    stats.cached = verified.size;
  };

  return {
    name,
    issuer: cfg.issuer,
    config: cfg,
    keySet,
    stats,
    cached(token) {
      if (verified.size === 0) return undefined;
      checkKeys();
      const k = digest(token);
      const e = verified.get(k);
      if (e === undefined) return undefined;
      const t = now();
      if (t >= e.until || t < e.from) {
        verified.delete(k);
        stats.cached = verified.size;
        return undefined;
      }
      verified.delete(k);
      verified.set(k, e);
      stats.cacheHits++;
      return e.user;
    },
    async verify(token, unverified) {
      // Cheap refusals first: a wrong issuer costs no key lookup (and no JWKS fetch).
      if (unverified.iss !== cfg.issuer) return invalidToken('issuer is not accepted');
      let payload: JWTPayload;
      try {
        stats.verifications++;
        // One call shape for all three key kinds; jose checks the alg fits the key.
        payload = (await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], options)).payload;
      } catch (err) {
        if (err instanceof KeySetUnavailable) {
          return new RelayError('auth_unavailable', `JWT client ${name}: ${err.message}`, { headers: { 'retry-after': String(err.retryAfter) } });
        }
        return invalidToken(reasonOf(err));
      }
      if (parties && (typeof payload.azp !== 'string' || !parties.has(payload.azp))) return invalidToken('azp is not an authorized party');
      for (const [claim, want] of claims) {
        if (payload[claim] !== want) return invalidToken(`claim "${claim}" does not have the required value`);
      }
      const user = payload[cfg.user];
      if (typeof user === 'string' ? user.length === 0 || user.length > 512 : typeof user !== 'number' || !Number.isFinite(user)) {
        return invalidToken(`claim "${cfg.user}" does not name a user`);
      }
      remember(token, String(user), payload);
      return String(user);
    },
  };
}

function readPublicKey(file: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`publicKey ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
  try {
    // A certificate works too: createPublicKey takes the key out of it.
    return createPublicKey(pem);
  } catch (err) {
    throw new Error(`publicKey ${file}: not a PEM public key or certificate (${(err as Error).message})`);
  }
}

/** jose's reasons, in words that help a developer and reveal nothing about the keys. */
function reasonOf(err: unknown): string {
  const e = err as { code?: string; claim?: string; message?: string };
  switch (e?.code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'nbf') return 'not valid yet (nbf)';
      return e.message?.startsWith('missing') ? `claim "${e.claim}" is missing` : `claim "${e.claim}" is not accepted`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'algorithm is not accepted';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad signature';
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return 'no key of the issuer matches (kid)';
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'several keys of the issuer match; the token needs a kid';
    default:
      return 'malformed or not verifiable';
  }
}
