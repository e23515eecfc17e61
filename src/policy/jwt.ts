/**
 * JWT clients (spec §11): one verifier per `clients.<name>.jwt`, built when the route table is
 * compiled and shared by every route that lists the client (so one issuer has one key set and one
 * fetch schedule, whatever the number of routes).
 *
 * Verification is jose's `jwtVerify` with everything pinned: the issuer's algorithms (never
 * `none`; HMAC only with a secret, so a public key can never be replayed as an HMAC secret),
 * exact `iss`, `aud` unless `audience: none`, and `exp` plus the user claim required (jose checks
 * `exp` only when present). `azp` and `claims` are checked here after jose.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
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
}

export interface JwtClientDeps {
  /** Directory that a relative `publicKey` path is resolved against. */
  configDir: string;
  /** The issuer's remote key set (`jwks` clients), shared across routes and reloads. */
  keySet?: RemoteKeySet;
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

  return {
    name,
    issuer: cfg.issuer,
    config: cfg,
    keySet,
    async verify(token, unverified) {
      // Cheap refusals first: a wrong issuer costs no key lookup (and no JWKS fetch).
      if (unverified.iss !== cfg.issuer) return invalidToken('issuer is not accepted');
      let payload: JWTPayload;
      try {
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
