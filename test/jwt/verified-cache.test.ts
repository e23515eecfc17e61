/**
 * The verified-token cache of a JWT client (src/policy/jwt.ts, docs/identity.md): a token seen
 * again within 60 s skips the signature check (counted by `stats.verifications`), but never
 * outlives its own `exp`, never answers for another token, is bounded, and is cleared when the
 * issuer's key set is fetched anew (key rotation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import type { JwtClientConfig } from '../../src/config/schema.js';
import { RelayError } from '../../src/errors.js';
import { createJwtClient, VERIFIED_CACHE_MAX_ENTRIES, VERIFIED_CACHE_MAX_MS, type JwtClient } from '../../src/policy/jwt.js';
import { createRemoteKeySet } from '../../src/policy/jwks.js';
import { compileAuth } from '../../src/policy/auth.js';
import { peekPayload } from '../../src/policy/jwt-token.js';
import { now, startIssuer, type FakeIssuer } from './issuer.js';

const ISS = 'https://issuer.cache.test/';
const AUD = 'api';
let issuer: FakeIssuer;

beforeAll(async () => {
  issuer = await startIssuer();
  await issuer.addKey('ES256', 'es1');
});
afterAll(async () => {
  await issuer?.close();
});

function config(extra: Partial<JwtClientConfig> = {}): JwtClientConfig {
  return { issuer: ISS, jwks: issuer.jwksUrl, algorithms: ['RS256', 'ES256'], audience: AUD, user: 'sub', clockTolerance: 0, cooldown: 0, ...extra } as JwtClientConfig;
}

/** A client on its own key set, with a clock the test moves (the cache's clock; jose keeps its own). */
function client(extra: Partial<JwtClientConfig> = {}) {
  const clock = { t: Date.now() };
  const keySet = createRemoteKeySet(issuer.jwksUrl, { cooldown: 0, timeout: 2000 });
  const c = createJwtClient('site', config(extra), { configDir: '.', keySet, now: () => clock.t });
  return { c, clock, keySet };
}

const sign = (claims: Record<string, unknown> = {}, key = issuer.keys[1]) =>
  issuer.sign({ iss: ISS, aud: AUD, sub: 'user-1', exp: now() + 300, ...claims }, { key });

async function verify(c: JwtClient, token: string): Promise<string | RelayError> {
  return c.verify(token, peekPayload(token)!);
}

describe('verified-token cache', () => {
  it('a token verified once is answered from the cache: no second signature check', async () => {
    const { c } = client();
    const t = await sign();
    expect(c.cached(t)).toBeUndefined();
    expect(await verify(c, t)).toBe('user-1');
    expect(c.stats.verifications).toBe(1);
    for (let i = 0; i < 5; i++) expect(c.cached(t)).toBe('user-1');
    expect(c.stats).toMatchObject({ verifications: 1, cacheHits: 5, cached: 1 });

    // Through the route's auth policy: the second check is synchronous (no Promise) and verifies nothing.
    const auth = compileAuth(['site'], { tokens: {}, jwt: new Map([['site', c]]) });
    const first = auth.check({ authorization: `Bearer ${t}` });
    expect(first).not.toBeInstanceOf(Promise);
    expect(first).toEqual({ client: 'site', user: 'user-1', via: 'authorization' });
    expect(c.stats.verifications).toBe(1);
  });

  it('another token is never answered from a cached one (other user, tampered signature, other claims)', async () => {
    const { c } = client();
    const t1 = await sign({ sub: 'user-1' });
    const t2 = await sign({ sub: 'user-2' });
    expect(await verify(c, t1)).toBe('user-1');
    expect(c.cached(t2)).toBeUndefined();
    expect(await verify(c, t2)).toBe('user-2');
    expect(c.cached(t1)).toBe('user-1');
    expect(c.cached(t2)).toBe('user-2');
    // Same header and payload, a signature that is not the issuer's: not cached, and refused.
    const sig = t1.slice(t1.lastIndexOf('.') + 1);
    const forged = `${t1.slice(0, t1.lastIndexOf('.') + 1)}${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect(c.cached(forged)).toBeUndefined();
    const r = await verify(c, forged);
    expect(r).toBeInstanceOf(RelayError);
    expect((r as RelayError).message).toContain('bad signature');
    // A token whose payload differs (an admin claim added) is a different token: verified on its own.
    const before = c.stats.verifications;
    const t3 = await sign({ sub: 'user-1', role: 'admin' });
    expect(c.cached(t3)).toBeUndefined();
    expect(await verify(c, t3)).toBe('user-1');
    expect(c.stats.verifications).toBe(before + 1);
  });

  it('an expired token is refused even though it was cached', async () => {
    const { c, clock } = client();
    const exp = now() + 2;
    const t = await sign({ exp });
    expect(await verify(c, t)).toBe('user-1');
    expect(c.cached(t)).toBe('user-1');
    // The cache's own clock at exp: the entry is gone (clockTolerance 0), well before 60 s.
    clock.t = exp * 1000;
    expect(c.cached(t)).toBeUndefined();
    // And for real: past exp, the full check refuses it (it is not re-cached either).
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 + 50 - Date.now())));
    const auth = compileAuth(['site'], { tokens: {}, jwt: new Map([['site', c]]) });
    const res = await auth.check({ authorization: `Bearer ${t}` });
    expect(res).toBeInstanceOf(RelayError);
    expect((res as RelayError).message).toContain('expired');
    expect(c.cached(t)).toBeUndefined();
  });

  it('clockTolerance extends the entry exactly as far as jose accepts the token, never past 60 s', async () => {
    const { c, clock } = client({ clockTolerance: 30_000 });
    const exp = now() + 10;
    const t = await sign({ exp });
    const verifiedAt = clock.t;
    expect(await verify(c, t)).toBe('user-1');
    clock.t = exp * 1000 + 29_000; // past exp, within the tolerance: jose would accept it too
    expect(c.cached(t)).toBe('user-1');
    clock.t = exp * 1000 + 30_000;
    expect(c.cached(t)).toBeUndefined();

    // A long-lived token: the entry lasts 60 s from the verification, then the signature is checked again.
    const long = await sign({ exp: now() + 3600 });
    clock.t = verifiedAt;
    expect(await verify(c, long)).toBe('user-1');
    clock.t = verifiedAt + VERIFIED_CACHE_MAX_MS - 1;
    expect(c.cached(long)).toBe('user-1');
    clock.t = verifiedAt + VERIFIED_CACHE_MAX_MS;
    expect(c.cached(long)).toBeUndefined();
  });

  it('a token not valid before nbf (minus tolerance) is not served from the cache when the clock goes back', async () => {
    const { c, clock } = client();
    const nbf = now() - 1;
    const t = await sign({ nbf });
    expect(await verify(c, t)).toBe('user-1');
    clock.t = nbf * 1000 - 1;
    expect(c.cached(t)).toBeUndefined();
  });

  it('a key rotation (the key set fetched anew) clears the cache: a token of a removed key is refused', async () => {
    const { c } = client();
    const old = await sign();
    expect(await verify(c, old)).toBe('user-1');
    expect(c.cached(old)).toBe('user-1');
    // The issuer rotates: the old key leaves the JWKS, a new one signs.
    const saved = issuer.keys;
    try {
      const fresh = await issuer.addKey('ES256', 'es-rotated');
      issuer.keys = [fresh];
      const t = await sign({}, fresh); // unknown kid: the relay refetches the set (cooldown 0)
      expect(await verify(c, t)).toBe('user-1');
      expect(c.cached(old)).toBeUndefined();
      const r = await verify(c, old);
      expect(r).toBeInstanceOf(RelayError);
      expect((r as RelayError).message).toContain('no key of the issuer matches');
    } finally {
      issuer.keys = saved;
    }
  });

  it(`holds at most ${VERIFIED_CACHE_MAX_ENTRIES} tokens, the least recently used dropped first`, async () => {
    const secret = 'hs-secret-0123456789-abcdefghijklmnop';
    const c = createJwtClient('hs', { issuer: ISS, secret, algorithms: ['HS256'], audience: AUD, user: 'sub', clockTolerance: 0, cooldown: 0 } as JwtClientConfig, { configDir: '.' });
    const key = new TextEncoder().encode(secret);
    const exp = now() + 300;
    const mk = (i: number) => new SignJWT({ iss: ISS, aud: AUD, sub: `u${i}`, exp }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const first = await mk(0);
    expect(await verify(c, first)).toBe('u0');
    const second = await mk(1);
    expect(await verify(c, second)).toBe('u1');
    expect(c.cached(first)).toBe('u0'); // now the most recently used; `second` is the least
    for (let i = 2; i <= VERIFIED_CACHE_MAX_ENTRIES; i++) expect(await verify(c, await mk(i))).toBe(`u${i}`);
    expect(c.stats.cached).toBe(VERIFIED_CACHE_MAX_ENTRIES);
    expect(c.cached(second)).toBeUndefined();
    expect(c.cached(first)).toBe('u0');
  }, 60_000);
});
