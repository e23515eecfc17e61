/**
 * Compiles a validated config into a RouteTable: pools, policies, limiters and transforms are
 * built here, once, so a bad config fails at boot (or reload), never on a request.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import type { RouteConfig } from '../config/schema.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { Redactor, stripCredentials } from '../log/redact.js';
import { compileAuth, type AuthClients } from '../policy/auth.js';
import type { JwtClient } from '../policy/jwt.js';
import { compileCors } from '../policy/cors.js';
import { createRateLimiter } from '../policy/rate-limit.js';
import { compileTransforms } from '../transforms/index.js';
import { imageLibraryProblem } from '../transforms/image-library.js';
import type { PoolRegistry, UpstreamPool } from '../upstream/dispatcher.js';
import { createKeyPool } from '../upstream/credentials/key-pool.js';
import { createOAuthSource } from '../upstream/credentials/oauth.js';
import type { CredentialSource } from '../upstream/credentials/types.js';
import type { LocationRewrite } from '../upstream/headers.js';
import { normalisePrefix } from '../config/validate.js';
import { buildUpstreamTls } from '../tls/upstream.js';
import { collectSecrets } from './secrets.js';
import type { LimiterRegistry } from './limiter-registry.js';
import { KeySetRegistry, type KeySetHandle } from './key-set-registry.js';
import type { MetricsSink } from '../metrics/types.js';
import type { CompiledRoute, RouteTable } from './table.js';
import { BudgetStoreRegistry } from '../budgets/registry.js';
import { RouteBudgets } from '../budgets/route-budgets.js';
import { createBudgetService, type BudgetService } from '../budgets/service.js';
import { CacheRegistry, type SharedCache } from '../cache/registry.js';
import { compileRouteCache } from '../cache/route-cache.js';

export interface CompileDeps {
  pools: PoolRegistry;
  log: Logger;
  env: Record<string, string | undefined>;
  /** Reused across reloads so secrets learned at run time (OAuth tokens) stay redacted. */
  redactor?: Redactor;
  /** Reused across reloads so rate-limit buckets survive when a route and its limit are unchanged. */
  limiters?: LimiterRegistry;
  /** Reused across reloads so JWT issuers' key sets keep their cached keys and fetch schedule. */
  keySets?: KeySetRegistry;
  /** Where transforms and credential sources report (src/metrics/types.ts); absent: not recorded. */
  metrics?: MetricsSink;
  /** Reused across reloads so budgets kept in memory survive a reload. */
  budgetStores?: BudgetStoreRegistry;
  /** Budget clock (epoch ms); a test seam, default Date.now. */
  budgetClock?: () => number;
  /** Keeps the response-cache store across reloads; absent: a registry per table. */
  caches?: CacheRegistry;
  /**
   * `check`: load sharp while compiling, so a route with png-to-jpeg on a host where it cannot
   * load is a config problem at that route's `transforms`. `serve` leaves it unset: sharp loads
   * after the relay listens (relay.ts), and a failure disables only the image routes.
   */
  loadImageLibrary?: boolean;
}

export async function compileTable(loaded: LoadedConfig, deps: CompileDeps): Promise<RouteTable> {
  const { config } = loaded;
  const issues: ConfigIssue[] = [];
  const problem = (p: (string | number)[], message: string) => issues.push({ file: loaded.displayFile, ...loaded.positionOf(p), message });

  const redactor = deps.redactor ?? new Redactor();
  for (const s of collectSecrets(loaded)) redactor.add(s);

  // Which variables each part of the config misses (spec §3: fail closed per route).
  const missingClients = new Map<string, string[]>();
  const missingGlobalEgress: string[] = [];
  for (const m of loaded.missing) {
    if (m.path[0] === 'clients' && typeof m.path[1] === 'string') {
      missingClients.set(m.path[1], [...(missingClients.get(m.path[1]) ?? []), m.name]);
    } else if (m.path[0] === 'egress') missingGlobalEgress.push(m.name);
    else if (m.path[0] === 'server' || m.path[0] === 'log') problem(m.path, `variable ${m.name} is not set (needed to start the listener)`);
  }
  const tokens: Record<string, string> = {};
  const jwtClients = new Map<string, JwtClient>();
  const keySets: KeySetHandle[] = [];
  // jose is loaded only by configs that have JWT clients (startup cost of every other relay).
  const hasJwt = Object.values(config.clients).some((c) => typeof c === 'object');
  const [jwtModule, jwksModule] = hasJwt ? await Promise.all([import('../policy/jwt.js'), import('../policy/jwks.js')]) : [];
  for (const [name, client] of Object.entries(config.clients)) {
    if (missingClients.has(name)) continue;
    if (typeof client === 'string') {
      if (client) tokens[name] = client;
      continue;
    }
    const j = client.jwt;
    let handle: KeySetHandle | undefined;
    if (j.jwks) {
      const url = j.jwks;
      // JWKS fetches leave through the top-level egress with the system CAs (spec §11).
      const create = () => {
        const pool = deps.pools.acquire({ origin: new URL(url).origin, tls: {}, tlsKey: '', egress: config.egress.proxy, connectTimeout: 5000, env: deps.env });
        return { keySet: jwksModule!.createRemoteKeySet(url, { cooldown: j.cooldown, timeout: 5000, dispatcher: pool.dispatcher }), close: () => deps.pools.release(pool) };
      };
      handle = (deps.keySets ?? new KeySetRegistry()).acquire(`${url}\u0000${j.cooldown}\u0000${config.egress.proxy}`, create);
      keySets.push(handle);
    }
    try {
      jwtClients.set(name, jwtModule!.createJwtClient(name, j, { configDir: loaded.dir, ...(handle ? { keySet: handle.keySet } : {}) }));
    } catch (err) {
      problem(['clients', name, 'jwt', 'publicKey'], `client "${name}": ${(err as Error).message}`);
    }
  }

  // One budget service per table, only when something uses it.
  let budgets: BudgetService | undefined;
  if (config.routes.some((r) => r.budget.length) || config.server.usagePath) {
    const now = deps.budgetClock ?? Date.now;
    const stores = deps.budgetStores ?? new BudgetStoreRegistry(now);
    budgets = createBudgetService(config.budgets, stores.acquire(config.budgets, deps.log), { now, log: deps.log });
  }

  // One store for every caching route, opened only when some route caches (§13).
  let cache: SharedCache | undefined;
  if (config.routes.some((r) => r.cache)) cache = await (deps.caches ?? new CacheRegistry()).acquire(config.cache, deps.log);
  const routes: CompiledRoute[] = [];
  const acquired: CompiledRoute[] = [];
  for (const [i, rc] of config.routes.entries()) {
    const name = rc.name ?? rc.prefix;
    const missing = new Set<string>();
    for (const m of loaded.missing) if (m.path[0] === 'routes' && m.path[1] === i) missing.add(m.name);
    if (Array.isArray(rc.auth)) for (const c of rc.auth) for (const v of missingClients.get(c) ?? []) missing.add(v);
    if (!rc.egress?.proxy) for (const v of missingGlobalEgress) missing.add(v);
    try {
      const r = await compileRoute(rc, name, missing.size ? [...missing] : undefined, loaded, deps, { tokens, jwt: jwtClients }, redactor, budgets, cache);
      routes.push(r);
      acquired.push(r);
    } catch (err) {
      problem(['routes', i, (err as { configKey?: string }).configKey ?? 'upstream'], `route "${name}": ${(err as Error).message}`);
    }
  }
  const dispose = async () => {
    await Promise.all(acquired.map(async (r) => {
      await deps.pools.release(r.pool);
      if (r.tokenPool) await deps.pools.release(r.tokenPool);
      r.credentials?.close();
      await r.rateLimit?.limiter.close();
    }));
    await Promise.all(keySets.map((k) => k.release()));
    await budgets?.close();
    await cache?.release();
  };
  if (issues.length) {
    await dispose();
    throw new ConfigError(issues);
  }

  routes.sort((a, b) => b.prefix.length - a.prefix.length);
  const bases = [...new Set(config.server.basePaths.map(normalisePrefix))].sort((a, b) => (b === '/' ? -1 : a === '/' ? 1 : b.length - a.length));
  return {
    config,
    file: loaded.file,
    routes,
    bases,
    healthPath: normalisePrefix(config.server.healthPath),
    readyPath: normalisePrefix(config.server.readyPath),
    metricsPath: config.server.metricsPath ? normalisePrefix(config.server.metricsPath) : undefined,
    usagePath: config.server.usagePath ? normalisePrefix(config.server.usagePath) : undefined,
    budgets,
    redactor,
    maxBodySize: config.server.limits.maxBodySize,
    sendTimeout: config.server.limits.sendTimeout,
    trustProxy: config.server.trustProxy,
    jwtClients,
    dispose,
  };
}

async function compileRoute(
  rc: RouteConfig,
  name: string,
  disabled: string[] | undefined,
  loaded: LoadedConfig,
  deps: CompileDeps,
  clients: AuthClients,
  redactor: Redactor,
  budgets: BudgetService | undefined,
  cache: SharedCache | undefined,
): Promise<CompiledRoute> {
  const up = new URL(rc.upstream);
  const origin = up.origin;
  const upstreamPath = up.pathname.replace(/\/+$/, '');
  const prefix = normalisePrefix(rc.prefix);
  const egress = rc.egress?.proxy ?? loaded.config.egress.proxy;
  // A TLS file that is not there yet (GigaChat's root CA before it is downloaded) disables the
  // route, like a missing variable: the rest of the relay serves. --strict makes it an error.
  const absent = missingTlsFiles(rc, loaded.dir);
  if (absent.length && loaded.strict) throw Object.assign(new Error(`${absent.join('; ')}`), { configKey: 'tls' });
  let unavailable = absent.length ? absent.join('; ') : undefined;
  let tls = {};
  try {
    if (!unavailable) tls = buildUpstreamTls(rc.tls, loaded.dir);
  } catch (err) {
    throw Object.assign(new Error((err as Error).message), { configKey: 'tls' });
  }
  if (disabled) unavailable = `${disabled.length > 1 ? 'variables' : 'variable'} ${disabled.join(', ')} ${disabled.length > 1 ? 'are' : 'is'} not set`;
  const tlsKey = rc.tls ? JSON.stringify(rc.tls) : '';
  const pool = deps.pools.acquire({ origin, tls, tlsKey, egress, connectTimeout: rc.connectTimeout, env: deps.env });
  const info = { name, prefix, upstream: rc.upstream };
  const methods = rc.methods ? new Set<string>(rc.methods) : undefined;
  let transform;
  try {
    transform = await compileTransforms(rc.transforms, {
      route: info,
      configDir: loaded.dir,
      maxTransformSize: loaded.config.server.maxTransformSize,
      ...(loaded.config.server.imageConversions ? { conversions: loaded.config.server.imageConversions } : {}),
      log: deps.log,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      ...(deps.loadImageLibrary ? { loadImageLibrary: true } : {}),
    });
  } catch (err) {
    await deps.pools.release(pool);
    throw Object.assign(new Error((err as Error).message), { configKey: 'transforms' });
  }
  let credentials: CredentialSource | undefined;
  let tokenPool: UpstreamPool | undefined;
  const metrics = deps.metrics;
  if (rc.keys) credentials = createKeyPool(rc.keys, { route: name, log: deps.log, ...(metrics ? { onRest: (i: number) => metrics.keyRested(name, i) } : {}) });
  else if (rc.oauth && !unavailable) {
    // The token endpoint is its own origin, reached with the route's TLS and egress (spec §10).
    tokenPool = deps.pools.acquire({ origin: new URL(rc.oauth.tokenUrl).origin, tls, tlsKey, egress, connectTimeout: rc.connectTimeout, env: deps.env });
    credentials = createOAuthSource(rc.oauth, { route: name, dispatcher: tokenPool.dispatcher, egress: tokenPool.egress.describe, log: deps.log, redactor, ...(metrics ? { onFetch: (ok: boolean) => metrics.tokenFetch(name, ok) } : {}) });
  }
  const locations = new Map<string, LocationRewrite>();
  const upstreamBase = origin + upstreamPath;
  return {
    name,
    prefix,
    info,
    config: rc,
    disabled,
    disabledReason: unavailable,
    origin,
    upstreamPath,
    stripPrefix: rc.stripPrefix,
    methods,
    allowHeader: methods ? [...methods].join(', ') : '',
    auth: compileAuth(rc.auth, clients),
    cors: rc.cors ? compileCors(rc.cors, rc.methods, { cache: Boolean(rc.cache) }) : undefined,
    rateLimit: rc.rateLimit ? { limiter: deps.limiters ? deps.limiters.acquire(name, rc.rateLimit, () => createRateLimiter(rc.rateLimit!, { route: name, log: deps.log })) : createRateLimiter(rc.rateLimit, { route: name, log: deps.log }), by: rc.rateLimit.by } : undefined,
    headerPlan: {
      remove: new Set(rc.headers.remove.map((h) => h.toLowerCase())),
      set: [
        // A transform can only read encodings Node decodes; browsers also offer zstd.
        // A token budget must read every answer's usage (and may strip a chunk from SSE): identity.
        ...(!('accept-encoding' in lowerKeys(rc.headers.set))
          ? rc.usage === 'auto' && rc.budget.some((b) => b.tokens !== undefined)
            ? [['accept-encoding', 'identity'] as const]
            : rc.transforms.length
              ? [['accept-encoding', 'gzip, deflate, br'] as const]
              : []
          : []),
        ...Object.entries(rc.headers.set).map(([k, v]) => [k.toLowerCase(), v] as const),
      ],
      forwardClientIp: rc.forwardClientIp,
    },
    pool,
    tokenPool,
    egress: pool.egress.describe ?? stripCredentials(egress),
    firstByteTimeout: rc.firstByteTimeout,
    idleTimeout: rc.idleTimeout,
    timeout: rc.timeout,
    retries: rc.retries,
    heartbeat: rc.heartbeat ?? 0,
    credentials,
    forwardClientIp: rc.forwardClientIp,
    forwardPrefix: rc.forwardPrefix,
    transform,
    transformProblem: rc.transforms.some((t) => 'png-to-jpeg' in t) ? imageLibraryProblem : undefined,
    usage: rc.usage === 'auto',
    budgets: rc.budget.length && budgets ? new RouteBudgets(name, rc.budget, budgets, holdTtl(rc)) : undefined,
    cache: rc.cache && cache ? compileRouteCache(rc, cache) : undefined,
    errorContext: {
      upstream: upstreamBase,
      egress: pool.egress.describe,
      firstByteTimeout: rc.firstByteTimeout,
      idleTimeout: rc.idleTimeout,
      timeout: rc.timeout,
    },
    locationFor(base) {
      let l = locations.get(base);
      if (!l) {
        const pub = (base + (rc.stripPrefix ? (prefix === '/' ? '' : prefix) : '')) || '';
        l = { upstreamBase, upstreamPath, publicBase: pub };
        locations.set(base, l);
      }
      return l;
    },
  };
}

/**
 * How long a hold lives without being settled: past the route's whole-exchange timeout, or, with
 * none, long enough for any sane generation. Settling an expired hold still charges real usage.
 */
function holdTtl(rc: RouteConfig): number {
  return (rc.timeout > 0 ? rc.timeout : 30 * 60_000) + 2 * 60_000;
}

function lowerKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}

function missingTlsFiles(rc: RouteConfig, dir: string): string[] {
  const out: string[] = [];
  for (const key of ['ca', 'cert', 'key'] as const) {
    const p = rc.tls?.[key];
    if (p && !existsSync(path.resolve(dir, p))) out.push(`tls.${key} ${path.resolve(dir, p)} not found`);
  }
  return out;
}
