/**
 * JWT clients end to end (spec §11): a real relay on 127.0.0.1, a fake JWKS issuer and a fake
 * upstream that records what reached it. Each refusal case is paired with the success it differs
 * from, so every assertion can fail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { now, startIssuer, unsignedToken, type FakeIssuer } from './issuer.js';

const ISS = 'https://issuer.test/';
const AUD = 'relay-api';
const HS_SECRET = 'hs-secret-0123456789-abcdefghijklmnop';

let issuer: FakeIssuer;
let other: FakeIssuer; // a second issuer whose key has the same kid (`k1`)
let upstream: FakeUpstream;
let relay: TestRelay;

const good = (extra: Record<string, unknown> = {}) => ({ iss: ISS, aud: AUD, sub: 'user-1', exp: now() + 300, ...extra });

async function call(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(relay.url + path, { headers });
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function expectInvalid(token: string): Promise<Record<string, any>> {
  const before = upstream.requests.length;
  const r = await call('/api/v1/x', bearer(token));
  const body = (await r.json()) as { error: Record<string, any> };
  expect(r.status).toBe(401);
  expect(body.error.type).toBe('unauthorized');
  expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
  expect(upstream.requests.length).toBe(before);
  return body.error;
}

beforeAll(async () => {
  issuer = await startIssuer();
  other = await startIssuer({ kid: 'k1' });
  upstream = await startUpstream();
  relay = await startTestRelay(
    `clients:
  web: shared-token-0001
  site:
    jwt:
      issuer: ${ISS}
      jwks: ${issuer.jwksUrl}
      algorithms: [RS256, ES256]
      audience: ${AUD}
      clockTolerance: 5s
      cooldown: 1s
  other:
    jwt:
      issuer: https://other.test
      jwks: ${other.jwksUrl}
      algorithms: [RS256]
      audience: ${AUD}
  hs:
    jwt:
      issuer: https://hs.test/auth/v1
      secret: \${HS_SECRET}
      algorithms: [HS256]
      audience: authenticated
      claims: { email_verified: true }
  clerk:
    jwt:
      issuer: https://clerk.test
      jwks: ${issuer.jwksUrl}
      algorithms: [RS256]
      audience: none
      authorizedParties: [https://app.example]
      cooldown: 1s
routes:
  - name: api
    prefix: /api
    upstream: ${upstream.url}
    auth: [web, site, other, hs, clerk]
  - name: limited
    prefix: /limited
    upstream: ${upstream.url}
    auth: [site, web]
    rateLimit: { requests: 1, per: 1m, by: user }
`,
    { env: { HS_SECRET } },
  );
});

afterAll(async () => {
  await relay?.close();
  await Promise.all([issuer?.close(), other?.close(), upstream?.close()]);
});

describe('a valid JWT', () => {
  it('is admitted, names client and user in the access log, and never reaches upstream or the log', async () => {
    const token = await issuer.sign(good());
    const r = await call('/api/v1/models', bearer(token));
    expect(r.status).toBe(200);
    const rec = upstream.requests.at(-1)!;
    expect(rec.headers.authorization).toBeUndefined();
    expect(JSON.stringify(rec.headers)).not.toContain(token.split('.')[1]);
    const line = relay.lines().find((l) => l.req_id === r.headers.get('x-request-id'))!;
    expect(line).toMatchObject({ route: 'api', status: 200, client: 'site', user: 'user-1' });
    expect(relay.logs()).not.toContain(token.split('.')[1]);
  });

  it('works in X-Proxy-Token too, and is dropped from there', async () => {
    const token = await issuer.sign(good({ sub: 'user-x' }));
    const r = await call('/api/v1/models', { 'x-proxy-token': token });
    expect(r.status).toBe(200);
    expect(upstream.requests.at(-1)!.headers['x-proxy-token']).toBeUndefined();
  });

  it('with a shared token in X-Proxy-Token, a JWT of a known issuer in Authorization is still dropped', async () => {
    const token = await issuer.sign(good());
    const r = await call('/api/v1/models', { 'x-proxy-token': 'shared-token-0001', ...bearer(token) });
    expect(r.status).toBe(200);
    const h = upstream.requests.at(-1)!.headers;
    expect(h.authorization).toBeUndefined();
    const line = relay.lines().find((l) => l.req_id === r.headers.get('x-request-id'))!;
    expect(line.client).toBe('web');
    expect(line.user).toBeUndefined();
  });

  it('an ES256 key of the same issuer verifies too', async () => {
    const es = await issuer.addKey('ES256', 'es-1');
    // The new kid is unknown to the cached set: one refetch (cooldown 1s) picks it up.
    await new Promise((r) => setTimeout(r, 1100));
    const r = await call('/api/x', bearer(await issuer.sign(good(), { key: es })));
    expect(r.status).toBe(200);
  });
});

describe('refused tokens: 401 invalid_token', () => {
  it('no token at all: 401 with a bare Bearer challenge', async () => {
    const r = await call('/api/x');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(r.headers.get('www-authenticate')).not.toContain('invalid_token');
  });

  it('expired (past the clock tolerance)', async () => {
    const e = await expectInvalid(await issuer.sign(good({ exp: now() - 60 })));
    expect(e.message).toContain('expired');
  });

  it('clock tolerance: expired 2s ago and nbf 2s ahead pass with 5s of tolerance', async () => {
    expect((await call('/api/x', bearer(await issuer.sign(good({ exp: now() - 2 }))))).status).toBe(200);
    expect((await call('/api/x', bearer(await issuer.sign(good({ nbf: now() + 2 }))))).status).toBe(200);
  });

  it('nbf in the future', async () => {
    const e = await expectInvalid(await issuer.sign(good({ nbf: now() + 120 })));
    expect(e.message).toContain('nbf');
  });

  it('wrong iss, including the variant without the trailing slash', async () => {
    await expectInvalid(await issuer.sign(good({ iss: 'https://issuer.test' })));
    await expectInvalid(await issuer.sign(good({ iss: 'https://evil.test/' })));
  });

  it('wrong or missing aud', async () => {
    await expectInvalid(await issuer.sign(good({ aud: 'someone-else' })));
    const { aud: _aud, ...noAud } = good();
    await expectInvalid(await issuer.sign(noAud));
  });

  it('no exp', async () => {
    const { exp: _exp, ...noExp } = good();
    const e = await expectInvalid(await issuer.sign(noExp));
    expect(e.message).toContain('"exp"');
  });

  it('no sub (the user claim)', async () => {
    const { sub: _sub, ...noSub } = good();
    const e = await expectInvalid(await issuer.sign(noSub));
    expect(e.message).toContain('"sub"');
  });

  it('alg: none', async () => {
    await expectInvalid(unsignedToken(good()));
  });

  it('HS256 signed with the issuer\'s public key as the secret (alg confusion)', async () => {
    const pem = await issuer.spki();
    const forged = await new SignJWT(good()).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode(pem));
    const e = await expectInvalid(forged);
    expect(e.message).toContain('algorithm');
  });

  it('an algorithm the relay does not list for the issuer (PS256), even with a published key', async () => {
    const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true });
    issuer.keys.push({ kid: 'ps', alg: 'PS256', privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid: 'ps', alg: 'PS256' } });
    const token = await new SignJWT(good()).setProtectedHeader({ alg: 'PS256', kid: 'ps' }).sign(privateKey);
    const e = await expectInvalid(token);
    expect(e.message).toContain('algorithm');
  });

  it('an RS256 token presented to the HS256 issuer', async () => {
    await expectInvalid(await issuer.sign({ ...good(), iss: 'https://hs.test/auth/v1', aud: 'authenticated', email_verified: true }));
  });

  it('tampered payload', async () => {
    const token = await issuer.sign(good());
    const [h, , s] = token.split('.');
    const p = Buffer.from(JSON.stringify(good({ sub: 'admin' }))).toString('base64url');
    const e = await expectInvalid(`${h}.${p}.${s}`);
    expect(e.message).toContain('signature');
  });

  it('garbage, and a wrong shared token', async () => {
    await expectInvalid('not-a-token');
    await expectInvalid('aaaa.bbbb.cccc');
    await expectInvalid('shared-token-0002');
  });

  it('a token in the query string is never accepted, and never logged', async () => {
    const token = await issuer.sign(good());
    for (const q of [`access_token=${token}`, `jwt=${token}`, `t=${token}`]) {
      const r = await call(`/api/x?${q}`);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).not.toContain('invalid_token');
    }
    expect(relay.logs()).toContain('/api/x?');
    expect(relay.logs()).not.toContain(token.split('.')[1]);
    expect(relay.logs()).not.toContain(token.split('.')[2]);
  });
});

describe('issuer options', () => {
  it('authorizedParties: azp must be listed', async () => {
    const base = { iss: 'https://clerk.test', sub: 'user_2', exp: now() + 60 };
    expect((await call('/api/x', bearer(await issuer.sign({ ...base, azp: 'https://app.example' })))).status).toBe(200);
    await expectInvalid(await issuer.sign({ ...base, azp: 'https://evil.example' }));
    const e = await expectInvalid(await issuer.sign(base));
    expect(e.message).toContain('azp');
  });

  it('claims must equal; an HS256 secret issuer', async () => {
    const key = new TextEncoder().encode(HS_SECRET);
    const hs = (extra: Record<string, unknown>) =>
      new SignJWT({ iss: 'https://hs.test/auth/v1', aud: 'authenticated', sub: 'sb-user', exp: now() + 60, ...extra }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const ok = await call('/api/x', bearer(await hs({ email_verified: true })));
    expect(ok.status).toBe(200);
    const line = relay.lines().find((l) => l.req_id === ok.headers.get('x-request-id'))!;
    expect(line).toMatchObject({ client: 'hs', user: 'sb-user' });
    const e = await expectInvalid(await hs({ email_verified: false }));
    expect(e.message).toContain('email_verified');
    await expectInvalid(await hs({}));
    // The secret is a secret: the redactor knows it.
    expect(relay.relay.table().redactor.has(`x${HS_SECRET}x`)).toBe(true);
  });

  it('two issuers with the same kid: each token verifies only with its own issuer\'s keys', async () => {
    const mine = await other.sign({ iss: 'https://other.test', aud: AUD, sub: 'o-1', exp: now() + 60 });
    expect((await call('/api/x', bearer(mine))).status).toBe(200);
    // Signed by `other`'s k1, claiming `site`'s issuer: site's k1 does not verify it.
    await expectInvalid(await other.sign(good()));
  });
});

describe('rateLimit.by: user', () => {
  it('gives each user of a JWT client a bucket of their own', async () => {
    const a = await issuer.sign(good({ sub: 'alice' }));
    const b = await issuer.sign(good({ sub: 'bob' }));
    expect((await call('/limited/x', bearer(a))).status).toBe(200);
    expect((await call('/limited/x', bearer(a))).status).toBe(429);
    expect((await call('/limited/x', bearer(b))).status).toBe(200);
    // A shared token has no user: keyed by IP, its own bucket.
    expect((await call('/limited/x', bearer('shared-token-0001'))).status).toBe(200);
  });
});

describe('key set fetching', () => {
  it('key rotation: a new kid is picked up without a restart', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // past the 1s cooldown of the last fetch
    const fresh = await issuer.addKey('RS256', 'rotated');
    issuer.keys = issuer.keys.filter((k) => k.kid !== 'k1');
    const before = issuer.fetches;
    const r = await call('/api/x', bearer(await issuer.sign(good(), { key: fresh })));
    expect(r.status).toBe(200);
    expect(issuer.fetches).toBe(before + 1);
  });

  it('an unknown-kid storm causes at most one refetch per cooldown', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const before = issuer.fetches;
    const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => issuer.sign(good(), { kid: `random-${i}` })));
    const t0 = performance.now();
    const answers = await Promise.all(tokens.map((t) => call('/api/x', bearer(t)).then((r) => r.status)));
    const took = performance.now() - t0;
    expect(answers.every((s) => s === 401)).toBe(true);
    // One fetch for the first unknown kid; the rest wait on it or find the set cooling down.
    expect(issuer.fetches - before).toBeGreaterThanOrEqual(1);
    expect(issuer.fetches - before).toBeLessThanOrEqual(1 + Math.floor(took / 1000));
  });
});
