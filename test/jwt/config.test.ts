/**
 * JWT client configuration (spec §3, §11): every mistake is a FILE:LINE:COL error from the loader
 * (or `check`), never a surprise at request time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { rateLimitKey } from '../../src/policy/rate-limit-key.js';
import { runCli } from '../helpers/cli.js';
import { startTestRelay } from '../helpers/relay.js';
import { startIssuer } from './issuer.js';

const ROUTE = `routes:
  - name: api
    prefix: /api
    upstream: http://127.0.0.1:9
    auth: [site]
`;

/** A config with one JWT client whose body is `jwt` (indented under `jwt:`). */
const withJwt = (jwt: string) => `clients:
  site:
    jwt:
${jwt
  .trim()
  .split('\n')
  .map((l) => `      ${l.trim()}`)
  .join('\n')}
${ROUTE}`;

function errorsOf(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfigText(yaml, 'relay.yaml', { env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  return [];
}

const BASE = `issuer: https://issuer.test/
jwks: https://issuer.test/.well-known/jwks.json
algorithms: [RS256]
audience: api`;

describe('JWT client config errors (FILE:LINE:COL)', () => {
  it('a valid client loads, with the defaults', () => {
    const loaded = parseConfigText(withJwt(BASE), 'relay.yaml', { env: {} });
    const c = loaded.config.clients.site;
    expect(typeof c).toBe('object');
    expect(c).toMatchObject({ jwt: { user: 'sub', clockTolerance: 30_000, cooldown: 30_000, algorithms: ['RS256'] } });
  });

  it('algorithms are required', () => {
    const e = errorsOf(withJwt(BASE.replace('algorithms: [RS256]\n', '')));
    expect(e).toEqual([expect.stringMatching(/^relay\.yaml:\d+:\d+ clients\.site\.jwt\.algorithms: is required/)]);
  });

  it('`none` is never accepted', () => {
    const e = errorsOf(withJwt(BASE.replace('[RS256]', '[RS256, none]')));
    expect(e).toEqual(['relay.yaml:6:27 clients.site.jwt.algorithms.1: algorithm `none` is never accepted (an unsigned token proves nothing)']);
  });

  it('jwks and secret together', () => {
    const e = errorsOf(withJwt(`${BASE}\nsecret: abcdefabcdef`));
    expect(e).toEqual([expect.stringMatching(/^relay\.yaml:8:15 .*jwks and secret: use exactly one key source/)]);
  });

  it('no key source at all', () => {
    const e = errorsOf(withJwt(BASE.replace(/jwks: .*\n/, '')));
    expect(e).toEqual([expect.stringMatching(/^relay\.yaml:4:7 .*needs exactly one of jwks, secret, publicKey/)]);
  });

  it('a plain-http JWKS off loopback is refused; loopback is fine', () => {
    const e = errorsOf(withJwt(BASE.replace('https://issuer.test/.well', 'http://issuer.test/.well')));
    expect(e).toEqual([expect.stringMatching(/^relay\.yaml:5:13 .*jwks must be an https:\/\/ URL/)]);
    for (const host of ['127.0.0.1:8080', 'localhost', '[::1]:9000']) {
      expect(errorsOf(withJwt(BASE.replace('https://issuer.test', `http://${host}`)))).toEqual([]);
    }
  });

  it('HMAC algorithms only with a secret, and a secret only with HMAC', () => {
    expect(errorsOf(withJwt(BASE.replace('[RS256]', '[RS256, HS256]')))).toEqual([expect.stringMatching(/^relay\.yaml:6:19 .*HS256 needs `secret`/)]);
    const hs = `issuer: https://x.supabase.co/auth/v1\nsecret: abcdefabcdef\nalgorithms: [HS256, RS256]\naudience: authenticated`;
    expect(errorsOf(withJwt(hs))).toEqual([expect.stringMatching(/^relay\.yaml:6:19 .*a secret verifies HS256\/HS384\/HS512 only \(found RS256\)/)]);
  });

  it('audience is required; unknown keys get a did-you-mean', () => {
    expect(errorsOf(withJwt(BASE.replace('audience: api', 'audiance: api')))).toEqual([
      expect.stringMatching(/^relay\.yaml:4:7 clients\.site\.jwt\.audience: is required/),
      'relay.yaml:7:7 unknown key "audiance" in clients.site.jwt (did you mean "audience"?)',
    ]);
    expect(errorsOf(withJwt(`${BASE}\nclockTolerence: 10s`))).toEqual(['relay.yaml:8:7 unknown key "clockTolerence" in clients.site.jwt (did you mean "clockTolerance"?)']);
  });

  it('audience: none without authorizedParties is a warning, with them it is not', () => {
    const open = parseConfigText(withJwt(BASE.replace('audience: api', 'audience: none')), 'relay.yaml', { env: {} });
    expect(open.warnings.map((w) => `${w.line}:${w.col} ${w.message}`)).toEqual([expect.stringMatching(/^7:17 .*audience none and no authorizedParties/)]);
    const listed = parseConfigText(withJwt(BASE.replace('audience: api', 'audience: none\nauthorizedParties: [https://app.example]')), 'relay.yaml', { env: {} });
    expect(listed.warnings).toEqual([]);
  });

  it('a short HMAC secret is a warning', () => {
    const hs = (secret: string) => withJwt(`issuer: https://x.supabase.co/auth/v1\nsecret: ${secret}\nalgorithms: [HS256]\naudience: authenticated`);
    expect(parseConfigText(hs('short-secret'), 'relay.yaml', { env: {} }).warnings.map((w) => `${w.line}:${w.col} ${w.message}`)).toEqual([
      expect.stringMatching(/^5:15 .*shorter than 32 bytes/),
    ]);
    expect(parseConfigText(hs('x'.repeat(32)), 'relay.yaml', { env: {} }).warnings).toEqual([]);
  });

  it('rateLimit.by accepts user, keyed by client and user together', () => {
    const y = withJwt(BASE) + '    rateLimit: { requests: 5, per: 1m, by: user }\n';
    expect(parseConfigText(y, 'relay.yaml', { env: {} }).config.routes[0]!.rateLimit!.by).toBe('user');
    expect(rateLimitKey('user', 'site', '10.0.0.1', 'u1')).toBe('u:site:u1');
    expect(rateLimitKey('user', 'web', '10.0.0.1', undefined)).toBe('ip:10.0.0.1');
    expect(rateLimitKey('user', undefined, '10.0.0.1', undefined)).toBe('ip:10.0.0.1');
  });
});

describe('JWT client whose variables are unset', () => {
  it('an unset issuer, audience or jwks variable disables the client instead of failing the config', () => {
    const y = withJwt(`issuer: \${ISSUER}\njwks: \${JWKS_URL}\nalgorithms: [RS256]\naudience: \${AUD}`);
    const loaded = parseConfigText(y, 'relay.yaml', { env: {} });
    expect(loaded.missing.map((m) => m.name).sort()).toEqual(['AUD', 'ISSUER', 'JWKS_URL']);
    expect(errorsOf(y.replace('${AUD}', '""'), { ISSUER: 'https://i.test', JWKS_URL: 'https://i.test/jwks' })).toEqual([
      expect.stringMatching(/^relay\.yaml:7:17 .*audience must not be empty/),
    ]);
    expect(() => parseConfigText(y, 'relay.yaml', { env: {}, strict: true })).toThrow(/variable ISSUER is not set \(--strict\)/);
  });


  it('disables the routes using it (503 route_disabled naming the variable), others serve', async () => {
    const relay = await startTestRelay(`clients:
  web: shared-token-0001
  site:
    jwt:
      issuer: https://x.supabase.co/auth/v1
      secret: \${SUPABASE_JWT_SECRET}
      algorithms: [HS256]
      audience: authenticated
routes:
  - name: jwt
    prefix: /jwt
    upstream: http://127.0.0.1:9
    auth: [site]
  - name: shared
    prefix: /shared
    upstream: http://127.0.0.1:9
    auth: [web]
`);
    try {
      const r = await fetch(`${relay.url}/jwt/x`);
      expect(r.status).toBe(503);
      const body = (await r.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe('route_disabled');
      expect(body.error.message).toContain('SUPABASE_JWT_SECRET');
      expect((await fetch(`${relay.url}/shared/x`)).status).toBe(401);
    } finally {
      await relay.close();
    }
  });
});

describe('ai-relay check', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'jwt-check-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists each route\'s JWT clients (issuer, algorithms, audience) and never fetches a key set', async () => {
    const issuer = await startIssuer();
    try {
      writeFileSync(path.join(dir, 'issuer.pem'), await issuer.spki());
      writeFileSync(
        path.join(dir, 'good.yaml'),
        `clients:
  site:
    jwt:
      issuer: https://abc.supabase.co/auth/v1
      jwks: ${issuer.jwksUrl}
      algorithms: [ES256, RS256]
      audience: authenticated
  pem:
    jwt:
      issuer: https://pem.test
      publicKey: issuer.pem
      algorithms: [RS256]
      audience: none
routes:
  - name: api
    prefix: /api
    upstream: http://127.0.0.1:9
    auth: [site, pem]
`,
      );
      const r = await runCli(['check', '--config', 'good.yaml'], { cwd: dir });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`api ← site: iss https://abc.supabase.co/auth/v1, jwks ${issuer.jwksUrl}, alg ES256|RS256, aud authenticated`);
      expect(r.stdout).toContain('api ← pem: iss https://pem.test, publicKey issuer.pem, alg RS256, aud none');
      expect(r.stdout).toMatch(/warning good\.yaml:13:17 .*audience none and no authorizedParties/);
      expect(issuer.fetches).toBe(0);
    } finally {
      await issuer.close();
    }
  });

  it('reports bad JWT clients as FILE:LINE:COL and exits 1', async () => {
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      `clients:
  site:
    jwt:
      issuer: https://issuer.test
      jwks: http://issuer.test/jwks.json
      secret: abcdefabcdef
      algorithms: [RS256]
      audience: api
  pem:
    jwt:
      issuer: https://pem.test
      publicKey: missing.pem
      algorithms: [RS256]
      audience: api
routes:
  - name: api
    prefix: /api
    upstream: http://127.0.0.1:9
    auth: [site, pem]
`,
    );
    const r = await runCli(['check', '--config', 'bad.yaml'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:5:13 .*jwks must be an https:\/\/ URL/);
    expect(r.stderr).toMatch(/bad\.yaml:6:15 .*jwks and secret/);

    writeFileSync(path.join(dir, 'bad2.yaml'), `clients:
  pem:
    jwt:
      issuer: https://pem.test
      publicKey: missing.pem
      algorithms: [RS256]
      audience: api
routes:
  - name: api
    prefix: /api
    upstream: http://127.0.0.1:9
    auth: [pem]
`);
    const r2 = await runCli(['check', '--config', 'bad2.yaml'], { cwd: dir });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/bad2\.yaml:5:18 client "pem": publicKey .*missing\.pem: file not found/);
  });
});
