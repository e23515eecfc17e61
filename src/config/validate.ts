/**
 * Checks that span several fields (the schema checks one field at a time). Each finding names
 * the config path it is about, so load.ts can point at the YAML line.
 */
import type { JwtClientConfig, RelayConfig } from './schema.js';
import { parseProxyUrl } from '../upstream/egress-url.js';

export interface Finding {
  path: (string | number)[];
  message: string;
}

export function crossValidate(cfg: RelayConfig): { errors: Finding[]; warnings: Finding[] } {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  const names = new Map<string, number>();
  const prefixes = new Map<string, number>();

  cfg.routes.forEach((r, i) => {
    const at = (...p: (string | number)[]) => ['routes', i, ...p];
    const name = r.name ?? r.prefix;
    if (names.has(name)) errors.push({ path: at(r.name ? 'name' : 'prefix'), message: `duplicate route name "${name}" (also route #${names.get(name)! + 1})` });
    names.set(name, i);
    const pfx = normalisePrefix(r.prefix);
    if (prefixes.has(pfx)) errors.push({ path: at('prefix'), message: `duplicate prefix "${r.prefix}" (also route #${prefixes.get(pfx)! + 1})` });
    prefixes.set(pfx, i);
    if (/(^|\/)\.\.?(\/|$)|%|\\/.test(r.prefix)) errors.push({ path: at('prefix'), message: 'prefix must not contain dot segments, % escapes or backslashes' });

    if (Array.isArray(r.auth)) {
      r.auth.forEach((c, j) => {
        if (!(c in cfg.clients)) {
          const known = Object.keys(cfg.clients);
          errors.push({
            path: at('auth', j),
            message: `unknown client "${c}"${known.length ? ` (clients: ${known.join(', ')})` : ' (no `clients` are defined)'}`,
          });
        }
      });
    }
    if (r.cors) {
      if (r.cors.credentials && r.cors.origins.includes('*')) {
        errors.push({ path: at('cors', 'credentials'), message: 'credentials: true cannot be combined with origin "*" (browsers refuse it); list the origins' });
      }
      r.cors.origins.forEach((o, j) => {
        if (o !== '*' && o !== 'null' && !/^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d+)?$/.test(o)) {
          errors.push({ path: at('cors', 'origins', j), message: `origin "${o}" must look like https://host[:port], https://*.host, * or null` });
        }
      });
    }
    if (r.keys) {
      const h = r.keys.header.toLowerCase();
      if (Object.keys(r.headers.set).some((k) => k.toLowerCase() === h)) {
        errors.push({ path: at('keys', 'header'), message: `keys.header "${r.keys.header}" is also set in headers.set; use one or the other` });
      }
      if (!r.keys.format.includes('{key}')) errors.push({ path: at('keys', 'format'), message: 'format must contain {key}' });
      if (r.oauth) errors.push({ path: at('oauth'), message: 'a route uses either a key pool (`keys`) or `oauth`, not both' });
    }
    if (r.oauth) {
      const o = r.oauth;
      if (o.type === 'gigachat' && !o.authorizationKey) errors.push({ path: at('oauth'), message: 'oauth type gigachat needs authorizationKey' });
      if (o.type === 'gigachat' && !o.scope) errors.push({ path: at('oauth'), message: 'oauth type gigachat needs scope (e.g. GIGACHAT_API_PERS)' });
      if (o.type === 'client-credentials' && (!o.clientId || !o.clientSecret)) errors.push({ path: at('oauth'), message: 'oauth type client-credentials needs clientId and clientSecret' });
    }
    if (r.tls?.insecure) warnings.push({ path: at('tls', 'insecure'), message: `route "${name}": tls.insecure is on — upstream certificates are NOT verified` });
    if ((r.tls?.cert === undefined) !== (r.tls?.key === undefined)) errors.push({ path: at('tls'), message: 'mutual TLS needs both tls.cert and tls.key' });
    if (r.auth === 'none') warnings.push({ path: at('auth'), message: `route "${name}" is open (auth: none): anyone who can reach the relay can use it` });
    r.budget.forEach((b, j) => {
      if ((b.tokens === undefined) === (b.requests === undefined)) {
        errors.push({ path: at('budget', j), message: b.tokens === undefined ? 'a budget needs `tokens: N` or `requests: N`' : 'a budget counts either `tokens` or `requests`, not both; write two budgets' });
      }
      // by + window is the store key: two such budgets would count into one.
      if (r.budget.findIndex((o) => o.by === b.by && o.per === b.per) < j) errors.push({ path: at('budget', j), message: `two budgets by ${b.by} per ${String(b.per)} on one route; keep one (or use another window)` });
      if (b.tokens !== undefined && r.usage === 'none') errors.push({ path: at('budget', j, 'tokens'), message: 'a tokens budget needs usage: auto (the route says usage: none, so spend could never be read)' });
    });
    if (r.cache) {
      const c = r.cache;
      c.paths.forEach((p, j) => {
        const segs = p.split('/').slice(1);
        if (segs.some((g) => g === '.' || g === '..') || /%|\\/.test(p)) errors.push({ path: at('cache', 'paths', j), message: 'cache path must not contain dot segments, % escapes or backslashes' });
        else if (segs.some((g) => g.includes('*') && g !== '*')) errors.push({ path: at('cache', 'paths', j), message: '`*` stands for one whole segment (`/v1/models/*`), not part of one' });
        const oneShot = oneShotReason(p);
        if (oneShot) errors.push({ path: at('cache', 'paths', j), message: `${p} must not be cached: ${oneShot}` });
      });
      if (c.maxTtl !== undefined && c.maxTtl < c.ttl) errors.push({ path: at('cache', 'maxTtl'), message: 'maxTtl must be at least ttl' });
      if (r.methods) {
        c.methods.forEach((m, j) => {
          if (!r.methods!.includes(m)) warnings.push({ path: at('cache', 'methods', j), message: `route "${name}" does not allow ${m}; cache.methods lists it in vain` });
        });
      }
      if (c.scope === 'shared' && Array.isArray(r.auth) && r.auth.length > 1) {
        warnings.push({ path: at('cache', 'scope'), message: `route "${name}": scope shared lets clients ${r.auth.join(', ')} read each other's cached answers (and learn by timing what others asked)` });
      }
    }
    r.transforms.forEach((t, j) => {
      if ('png-to-jpeg' in t && t['png-to-jpeg'].fields) {
        t['png-to-jpeg'].fields.forEach((f, k) => {
          if (!/^[A-Za-z0-9_$-]+(\[\])?(\.[A-Za-z0-9_$-]+(\[\])?)*$/.test(f)) errors.push({ path: at('transforms', j, 'png-to-jpeg', 'fields', k), message: `field path "${f}" must look like result.files[] or data[].b64_json` });
        });
      }
    });
  });

  const checkEgress = (proxy: string | undefined, path: (string | number)[]) => {
    if (proxy === undefined || proxy === 'env' || proxy === 'none' || proxy === '') return;
    try {
      parseProxyUrl(proxy);
    } catch (err) {
      errors.push({ path, message: (err as Error).message });
    }
  };
  checkEgress(cfg.egress.proxy, ['egress', 'proxy']);
  cfg.routes.forEach((r, i) => checkEgress(r.egress?.proxy, ['routes', i, 'egress', 'proxy']));

  for (const [name, c] of Object.entries(cfg.clients)) {
    if (typeof c !== 'string') checkJwtClient(name, c.jwt, errors, warnings);
  }
  cfg.routes.forEach((r, i) => {
    if (r.rateLimit?.by === 'user' && (r.auth === 'none' || !r.auth.some((c) => typeof cfg.clients[c] === 'object'))) {
      warnings.push({ path: ['routes', i, 'rateLimit', 'by'], message: `route "${r.name ?? r.prefix}": rateLimit.by user needs a JWT client in auth; without one every request is keyed by IP` });
    }
  });

  const bases = new Set<string>();
  cfg.server.basePaths.forEach((b, i) => {
    const n = normalisePrefix(b);
    if (bases.has(n)) errors.push({ path: ['server', 'basePaths', i], message: `duplicate base path "${b}"` });
    bases.add(n);
  });

  if (cfg.cache.store !== 'memory' && cfg.routes.some((r) => r.rateLimit?.store === cfg.cache.store)) {
    warnings.push({ path: ['cache', 'store'], message: 'the cache shares its Redis with rate limits: cache entries want allkeys-lru eviction, counters must never be evicted; use a separate Redis (docs/cache.md)' });
  }
  const dash = cfg.server.dashboard;
  if (dash) {
    const at = (...p: (string | number)[]) => ['server', 'dashboard', ...p];
    const dp = normalisePrefix(dash.path);
    if (dp === '/') errors.push({ path: at('path'), message: 'the dashboard path must not be "/" (it would shadow every route)' });
    if (/(^|\/)\.\.?(\/|$)/.test(dash.path)) errors.push({ path: at('path'), message: 'the dashboard path must not contain dot segments' });
    for (const [key, p] of [['healthPath', cfg.server.healthPath], ['readyPath', cfg.server.readyPath], ['metricsPath', cfg.server.metricsPath]] as const) {
      if (p !== undefined && (normalisePrefix(p) === dp || normalisePrefix(p).startsWith(`${dp}/`))) errors.push({ path: at('path'), message: `the dashboard path must not cover server.${key} (${p})` });
    }
    cfg.server.basePaths.forEach((b, i) => {
      const nb = normalisePrefix(b);
      if (nb !== '/' && (nb === dp || nb.startsWith(`${dp}/`))) errors.push({ path: ['server', 'basePaths', i], message: `base path "${b}" lies under the dashboard path ${dash.path}` });
    });
    cfg.routes.forEach((r, i) => {
      const rp = normalisePrefix(r.prefix);
      // Such a route could never be reached: the dashboard answers everything under its path.
      if (rp === dp || rp.startsWith(`${dp}/`)) errors.push({ path: ['routes', i, 'prefix'], message: `prefix "${r.prefix}" lies under the dashboard path ${dash.path}, which answers everything below it` });
    });
    // An admin token that is also a client token would let every app holding it read the dashboard.
    for (const [name, token] of Object.entries(cfg.clients)) {
      if (token && token === dash.token) errors.push({ path: at('token'), message: `the dashboard token must differ from every client token (it equals the token of client "${name}")` });
    }
    if (cfg.server.metricsToken && cfg.server.metricsToken === dash.token) errors.push({ path: at('token'), message: 'the dashboard token must differ from server.metricsToken' });
    if (dash.listen) {
      const port = Number(dash.listen.slice(dash.listen.lastIndexOf(':') + 1));
      if (port > 65535) errors.push({ path: at('listen'), message: `port ${port} is out of range` });
      else if (port !== 0 && port === cfg.server.port) errors.push({ path: at('listen'), message: 'dashboard.listen must use another port than server.port' });
    }
  }

  if (cfg.forwardProxy) {
    cfg.forwardProxy.allow.forEach((a, i) => {
      if (!/^(\*\.)?[A-Za-z0-9.-]+:(\d+|\*)$/.test(a) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(a)) {
        errors.push({ path: ['forwardProxy', 'allow', i], message: `allow entry "${a}" must be host:port (e.g. api.openai.com:443, *.googleapis.com:443)` });
      }
    });
    if (cfg.forwardProxy.port !== 0 && cfg.forwardProxy.port === cfg.server.port) {
      errors.push({ path: ['forwardProxy', 'port'], message: 'forwardProxy.port must differ from server.port' });
    }
  }
  return { errors, warnings };
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** A JWT client (spec §11): one key source, algorithms that fit it, a JWKS URL that is safe to fetch. */
function checkJwtClient(name: string, j: JwtClientConfig, errors: Finding[], warnings: Finding[]): void {
  const at = (...p: string[]) => ['clients', name, 'jwt', ...p];
  const sources = (['jwks', 'secret', 'publicKey'] as const).filter((k) => j[k] !== undefined);
  if (sources.length === 0) errors.push({ path: at(), message: `JWT client "${name}" needs exactly one of jwks, secret, publicKey` });
  if (sources.length > 1) errors.push({ path: at(sources[1]!), message: `JWT client "${name}" has ${sources.join(' and ')}: use exactly one key source (one issuer, one kind of key)` });
  const hmac = j.algorithms.filter((a) => a.startsWith('HS'));
  // Mixing HMAC with public-key algorithms is how alg confusion happens (RFC 8725 §3.1): a public
  // key used as an HMAC secret. Each key source therefore gets only the algorithms that fit it.
  if (sources.length === 1 && j.secret !== undefined && hmac.length !== j.algorithms.length) {
    errors.push({ path: at('algorithms'), message: `JWT client "${name}": a secret verifies HS256/HS384/HS512 only (found ${j.algorithms.filter((a) => !a.startsWith('HS')).join(', ')})` });
  }
  if (sources.length === 1 && j.secret === undefined && hmac.length) {
    errors.push({ path: at('algorithms'), message: `JWT client "${name}": ${hmac.join(', ')} needs \`secret\`; with ${sources[0]} list public-key algorithms (RS256, ES256, …)` });
  }
  // RFC 7518 §3.2: an HMAC key shorter than the hash can be guessed offline from one token.
  if (j.secret && Buffer.byteLength(j.secret) < 32) {
    warnings.push({ path: at('secret'), message: `JWT client "${name}": the secret is shorter than 32 bytes; anyone holding one token can try to guess it offline` });
  }
  if (j.jwks !== undefined && j.jwks !== '') {
    let u: URL | undefined;
    try {
      u = new URL(j.jwks);
    } catch {
      errors.push({ path: at('jwks'), message: `jwks ${JSON.stringify(j.jwks)} is not a URL` });
    }
    if (u) {
      const loopback = LOOPBACK_HOSTS.has(u.hostname);
      if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
        errors.push({ path: at('jwks'), message: `jwks must be an https:// URL (plain http only on 127.0.0.1, ::1, localhost): anyone on the path could swap the keys` });
      }
      if (u.username || u.password) errors.push({ path: at('jwks'), message: 'jwks must not carry credentials' });
    }
  }
  // Emptiness is checked here, not in the schema: a `${VAR}` that is not set empties the value,
  // and that must disable the routes using this client (load.ts), not fail the whole config.
  if (j.issuer === '') errors.push({ path: at('issuer'), message: 'issuer must not be empty' });
  const aud = Array.isArray(j.audience) ? j.audience : [j.audience];
  if (aud.includes('')) errors.push({ path: at('audience'), message: 'audience must not be empty (use `none` to skip the check)' });
  if (aud.includes('none') && aud.length > 1) errors.push({ path: at('audience'), message: '`none` cannot be combined with other audiences' });
  if (j.audience === 'none' && !j.authorizedParties?.length) {
    warnings.push({ path: at('audience'), message: `JWT client "${name}": audience none and no authorizedParties: a token the issuer signed for any other app of yours is accepted` });
  }
}

/**
 * Answers that must never be replayed: FusionBrain hands each generated image out once (the next
 * status poll says 404, and a poll answer "still running" replayed would stall a client forever),
 * and an OAuth token endpoint answers with a credential.
 */
function oneShotReason(path: string): string | undefined {
  const segs = path.toLowerCase().split('/');
  if (segs.includes('status') && segs.some((g) => g === 'pipeline' || g === 'text2image')) return 'FusionBrain status polls are one-shot (a replayed answer would stall or repeat a generation)';
  if (segs.includes('oauth') || segs.includes('token')) return 'token endpoints answer with credentials, one per caller';
  return undefined;
}

export function normalisePrefix(p: string): string {
  const t = p.replace(/\/+$/, '');
  return t === '' ? '/' : t;
}
