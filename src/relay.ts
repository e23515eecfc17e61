/**
 * The library entry: startRelay(loaded) → a running relay. The CLI is a thin layer over this.
 * Owns the lifecycle: compile → listen → serve → reload (atomic table swap) → drain → close.
 *
 * Reload: the new config is compiled aside while the old table keeps serving; only a valid table
 * is swapped in, in one assignment. Each exchange captured `x.table` when it was accepted, so
 * streams in flight finish on the table (pools, keys, limits) they started with. Pools and rate
 * limiters are shared by identity across tables (refcounted), so unchanged upstreams stay warm and
 * unchanged limits keep their buckets; the old table's leftovers close once their exchanges end.
 *
 * Drain (spec §2, reliability R-32): ready → 503 at once; after `drainDelay` (a load balancer's
 * health check notices meanwhile) the listener stops accepting and idle keep-alive connections
 * close; in-flight exchanges get what is left of `grace`; whatever is still running is cut, and
 * each cut exchange is logged.
 */
import type { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { LoadedConfig } from './config/load.js';
import type { ServerConfig } from './config/schema.js';
import { ConfigError, formatIssue } from './errors.js';
import { createLogger, type Logger } from './log/logger.js';
import { Redactor } from './log/redact.js';
import { metricsEndpoint, type MetricsSource } from './metrics/endpoint.js';
import { createRelayMetrics, type RelayMetrics } from './metrics/relay-metrics.js';
import { compileTable, type CompileDeps } from './routing/compile.js';
import { LimiterRegistry } from './routing/limiter-registry.js';
import { KeySetRegistry } from './routing/key-set-registry.js';
import { BudgetStoreRegistry } from './budgets/registry.js';
import type { CompiledRoute, RouteTable } from './routing/table.js';
import type { Exchange } from './server/context.js';
import { createHandler, type RelayState } from './server/handle.js';
import { listen, type Listener } from './server/listen.js';
import { LiveSet } from './server/live-set.js';
import { CacheRegistry } from './cache/registry.js';
import { PoolRegistry } from './upstream/dispatcher.js';
import { loadServerTls } from './tls/files.js';
import { startForwardProxy, type ForwardProxy } from './forward-proxy/index.js';
import { relayVersion } from './version.js';
import { logBanner } from './server/banner.js';
import { isSse } from './metrics/relay-metrics.js';
import { imageWarmup } from './transforms/image-warmup.js';
import type { Dashboard } from './dashboard/index.js';

export interface StartOptions {
  /** Where log lines go (default stdout). */
  logDestination?: Writable | NodeJS.WritableStream;
  /** Overrides for the listener (CLI flags beat the config). */
  host?: string;
  port?: number;
  logLevel?: string;
  env?: Record<string, string | undefined>;
  /** Static fields on every log line (e.g. worker id). */
  logBase?: Record<string, unknown>;
  /**
   * Where the metrics endpoint gets its text; default: this relay's registry. Under --workers,
   * a source that asks the primary for every worker's numbers (cluster/worker-metrics.ts).
   */
  metricsSource?: (own: RelayMetrics) => MetricsSource;
  /**
   * Test seam: the clock (epoch ms) budget windows and memory-store holds follow, so a test can
   * roll a window over without waiting a day. Not a config key; default Date.now.
   */
  budgetClock?: () => number;
  /** Clock of the memory response cache, ms since the epoch (tests age entries without sleeping). */
  cacheClock?: () => number;
}

export interface CloseOptions {
  /**
   * Keep serving (with ready → 503) this long before refusing new connections, so a load
   * balancer's health check sees the relay leave before connections are refused. Counted
   * inside `grace`. Default 0 (library and tests); `serve` uses `server.drainDelay`.
   */
  drainDelay?: number;
}

export interface Relay {
  url: string;
  address: AddressInfo;
  log: Logger;
  metrics: RelayMetrics;
  /** The table new requests use. */
  table(): RouteTable;
  /**
   * Compile `next` aside and swap it in atomically. Invalid: every issue is logged as
   * FILE:LINE:COL, the failure is counted, the old table keeps serving, and the error is rethrown.
   * A function is called inside the reload, so read/parse errors are handled (and counted) the same way.
   * Reloads run one at a time.
   */
  reload(next: LoadedConfig | (() => LoadedConfig)): Promise<void>;
  /** Drain: ready → 503, stop accepting, wait up to `grace` ms for in-flight exchanges, then cut. */
  close(grace?: number, opts?: CloseOptions): Promise<void>;
  /** The forward proxy's address when `forwardProxy` is configured. */
  readonly forwardProxy: { url: string; address: AddressInfo } | undefined;
  /** The built-in dashboard while `server.dashboard` is configured (spec §14). */
  readonly dashboard: Dashboard | undefined;
  /** Exchanges accepted and not finished yet (iterating walks a copy). */
  inFlight(): Iterable<Exchange> & { readonly size: number; has(x: Exchange): boolean };
  state: RelayState;
}

/** Server settings that only a restart can apply (the listener is built from them). */
const RESTART_KEYS = ['host', 'port', 'tls', 'tls.http2', 'limits.maxHeaderSize'] as const;

export async function startRelay(loaded: LoadedConfig, opts: StartOptions = {}): Promise<Relay> {
  const cfg = loaded.config;
  const env = opts.env ?? process.env;
  const redactor = new Redactor();
  const log = createLogger({
    level: opts.logLevel ?? env.LOG_LEVEL ?? cfg.log.level,
    format: cfg.log.format,
    redactor,
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
    ...(opts.logBase ? { base: opts.logBase } : {}),
  });
  const pools = new PoolRegistry();
  const inFlight = new LiveSet<Exchange>(); // not a Set: see live-set.ts
  const version = relayVersion();
  const caches = new CacheRegistry(opts.cacheClock ? { now: opts.cacheClock } : {});
  const metrics = createRelayMetrics({ version, inFlight: () => inFlight, cacheStats: () => caches.stats() });
  caches.setEvents({ onEvict: () => metrics.cacheEvicted(), onStoreError: (op) => metrics.cacheStoreError(op) });
  const metricsSource = opts.metricsSource ? opts.metricsSource(metrics) : metrics;
  const budgetClock = opts.budgetClock ?? Date.now;
  const deps: CompileDeps = { pools, log, env, redactor, limiters: new LimiterRegistry(), keySets: new KeySetRegistry(), metrics, budgetStores: new BudgetStoreRegistry(budgetClock), budgetClock, caches };
  const table = await compileTable(loaded, deps);
  function exchangeDone(x: Exchange): void {
    inFlight.delete(x);
    metrics.exchangeDone(x);
  }
  // sharp loads after listen (image-warmup.ts); `closing` is read only once the relay runs.
  const images = imageWarmup(log, () => state.table, () => closing !== undefined);
  const state: RelayState = {
    table,
    phase: 'starting',
    active: 0,
    version,
    startedAt: Date.now(),
    log,
    onExchangeStart(x) {
      inFlight.add(x);
      if (images.onFirstRequest !== undefined) images.onFirstRequest(); // sharp loads after the first request
      // While draining, answers close their HTTP/1.1 connection: the client's next request
      // opens a new one, which the load balancer sends elsewhere.
      if (state.phase === 'draining') closeAfterResponse(x);
    },
    onExchangeDone: exchangeDone,
    // A failing token source or a key pool with every key resting shows in readyPath per route;
    // it does not turn the whole relay unready (other routes still serve).
    // So does a JWT client whose key set cannot be fetched (spec §11), and a png-to-jpeg route
    // whose image library failed to load after the start (image-library.ts).
    routeProblem: (r) => r.credentials?.problem() ?? r.auth.problem() ?? r.transformProblem?.(),
  };
  const endpointsFor = (t: RouteTable) =>
    t.metricsPath ? new Map([[t.metricsPath, metricsEndpoint(metricsSource, () => state.table.config.server.metricsToken)]]) : undefined;
  state.extraEndpoints = endpointsFor(table);

  let listener!: Listener;
  // The dashboard (spec §14) hooks in only while configured: without it, no per-request cost.
  // Installed before the listener opens, so its path never answers 404 while the relay starts.
  let dashboard: Dashboard | undefined;
  const applyDashboard = async (announce: boolean): Promise<void> => {
    const on = state.table.config.server.dashboard !== undefined;
    if (on && !dashboard) {
      // Loaded on first use: a relay without a dashboard never reads its modules or page assets.
      const { startDashboard } = await import('./dashboard/index.js');
      dashboard = await startDashboard({
        version,
        startedAt: state.startedAt,
        config: () => state.table.config.server.dashboard,
        phase: () => state.phase,
        inFlight: () => inFlight.size,
        openStreams: () => {
          let n = 0;
          for (const x of inFlight) if (isSse(x)) n++;
          return n;
        },
        table: () => state.table,
      });
      if (announce) announceDashboard(dashboard);
    }
    if (on && dashboard) {
      const d = dashboard;
      state.onExchangeDone = (x) => {
        exchangeDone(x);
        d.record(x);
      };
      state.intercept = d.intercept;
    } else {
      state.onExchangeDone = exchangeDone;
      state.intercept = undefined;
      dashboard?.hub.close();
    }
  };
  const announceDashboard = (d: Dashboard): void => {
    const at = d.url ?? `${listener.url}${state.table.config.server.dashboard?.path ?? ''}`;
    log.info({ url: at }, `dashboard at ${at}`);
  };

  const serverCfg = { ...cfg.server, host: opts.host ?? cfg.server.host, port: opts.port ?? cfg.server.port };
  try {
    await applyDashboard(false);
    const tls = cfg.server.tls ? await loadServerTls(cfg.server.tls, loaded.dir, log) : undefined;
    listener = await listen(serverCfg, createHandler(state), tls, log);
  } catch (err) {
    await dashboard?.close();
    await table.dispose();
    await pools.destroyAll();
    throw err;
  }
  // The forward proxy (spec §7) shares the process, config, logging and shutdown.
  let forward: ForwardProxy | undefined;
  let forwardKey = '';
  const startForward = async (l: LoadedConfig): Promise<void> => {
    const fp = l.config.forwardProxy;
    const key = fp ? JSON.stringify(fp) : '';
    if (key === forwardKey) return;
    const old = forward;
    forward = undefined;
    forwardKey = '';
    await old?.close();
    if (!fp) return;
    const missing = l.missing.filter((m) => m.path[0] === 'forwardProxy').map((m) => m.name);
    if (missing.length) {
      log.warn({ missing }, `forward proxy is disabled: variable ${missing.join(', ')} is not set`);
      return;
    }
    forward = await startForwardProxy(fp, { log, redactor });
    forwardKey = key;
    log.info({ url: forward.url, allow: fp.allow }, `forward proxy listening on ${forward.url}`);
  };
  try {
    await startForward(loaded);
  } catch (err) {
    listener.destroyAll();
    await listener.stopAccepting();
    await dashboard?.close();
    await table.dispose();
    await pools.destroyAll();
    throw err;
  }
  if (dashboard) announceDashboard(dashboard);
  state.phase = 'ready';
  logBanner(log, loaded, table, listener.url);
  warmKeySets(table);
  images.watch(table); // png-to-jpeg routes: sharp loads now that the relay listens
  let current: ServerConfig = cfg.server;

  const applyReload = async (next: LoadedConfig | (() => LoadedConfig)) => {
    let fresh: RouteTable;
    let loadedNext: LoadedConfig;
    try {
      if (closing) throw new Error('the relay is shutting down');
      loadedNext = typeof next === 'function' ? next() : next;
      fresh = await compileTable(loadedNext, deps);
    } catch (err) {
      metrics.configReload(false);
      if (err instanceof ConfigError) {
        for (const i of err.issues) log.error({ file: i.file, line: i.line, col: i.col }, formatIssue(i));
        log.error({ problems: err.issues.length }, 'reload rejected: the config is invalid; the old configuration keeps serving');
      } else log.error({ err: (err as Error).message }, 'reload failed; the old configuration keeps serving');
      throw err;
    }
    const nextServer = loadedNext.config.server;
    const needRestart = RESTART_KEYS.filter((k) => {
      if ((k === 'host' && opts.host !== undefined) || (k === 'port' && opts.port !== undefined)) return false;
      return settingOf(current, k) !== settingOf(nextServer, k);
    });
    if (needRestart.length) {
      log.warn({ changed: needRestart.map((k) => `server.${k}`) }, `server.${needRestart.join(', server.')} changed: restart the relay to apply (the listener keeps its current settings)`);
    }
    if (nextServer.tls && current.tls && !needRestart.includes('tls')) {
      // New certificate files apply to new connections; a bad pair keeps the old one.
      const material = await loadServerTls(nextServer.tls, loadedNext.dir, log).catch((err: unknown) => {
        log.error({ err: (err as Error).message }, 'TLS reload failed; keeping the old certificate');
        return undefined;
      });
      if (material) {
        try {
          listener.reloadTls(material);
        } catch (err) {
          log.error({ err: (err as Error).message }, 'TLS reload failed; keeping the old certificate');
        }
      }
    }
    listener.applyLimits(nextServer.limits);
    await startForward(loadedNext).catch((err: unknown) => log.error({ err: (err as Error).message }, 'forward proxy restart failed'));
    const old = state.table;
    state.table = fresh; // the swap: new requests use `fresh` from here on
    warmKeySets(fresh);
    images.watch(fresh); // sharp, once loaded, serves every table; a new image route may start it
    state.extraEndpoints = endpointsFor(fresh);
    if (JSON.stringify(nextServer.dashboard?.listen) !== JSON.stringify(current.dashboard?.listen)) {
      log.warn('server.dashboard.listen changed: restart the relay to apply');
    }
    await applyDashboard(true).catch((err: unknown) => log.error({ err: (err as Error).message }, 'dashboard failed to start'));
    current = { ...nextServer, host: current.host, port: current.port, tls: needRestart.includes('tls') ? current.tls : nextServer.tls };
    // Exchanges holding `old` keep its pools and limiters (refcounted) until they finish.
    void old.dispose().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'closing the previous route table failed'));
    metrics.configReload(true);
    for (const w of loadedNext.warnings) log.warn(formatIssue(w));
    for (const r of fresh.routes) if (r.disabledReason) log.warn({ route: r.name, missing: r.disabled }, `route ${r.name} is disabled: ${r.disabledReason} (answers 503 route_disabled)`);
    log.info({ routes: fresh.routes.length, changed: changedRoutes(old.routes, fresh.routes) }, 'configuration reloaded');
  };

  let queue: Promise<void> = Promise.resolve();
  let closing: Promise<void> | undefined;
  const relay: Relay = {
    url: listener.url,
    address: listener.address,
    log,
    metrics,
    state,
    inFlight: () => inFlight,
    table: () => state.table,
    get dashboard() {
      return dashboard;
    },
    get forwardProxy() {
      return forward ? { url: forward.url, address: forward.address } : undefined;
    },
    reload(next) {
      const run = queue.then(() => applyReload(next));
      queue = run.catch(() => undefined);
      return run;
    },
    close(grace = cfg.server.shutdownGrace, closeOpts = {}) {
      closing ??= (async () => {
        const t0 = performance.now();
        state.phase = 'draining';
        for (const x of inFlight) closeAfterResponse(x);
        const delay = Math.min(closeOpts.drainDelay ?? 0, grace);
        log.info({ active: state.active, grace_ms: grace, drain_delay_ms: delay }, 'draining: ready answers 503');
        if (delay > 0) await sleep(delay);
        const stopped = listener.stopAccepting();
        const left = grace - (performance.now() - t0);
        if (state.active > 0 && left > 0) await untilIdle(state, left);
        if (state.active > 0) {
          const now = performance.now();
          for (const x of inFlight) {
            x.outcome = `cut: shutdown grace of ${grace}ms passed`;
            log.warn({ req_id: x.requestId, method: x.method, path: x.path, route: x.route?.name, client: x.client, user: x.user, dur_ms: Math.round(now - x.start) }, 'exchange cut: the shutdown grace passed');
          }
          log.warn({ active: state.active }, `shutdown grace of ${grace}ms passed; cutting ${state.active} exchange(s)`);
        }
        await dashboard?.close();
        listener.destroyAll();
        await forward?.close();
        // Cut exchanges end through their 'close' handlers: let them write their access lines.
        if (state.active > 0) await untilIdle(state, 1000);
        await Promise.race([stopped, sleep(1000)]);
        await state.table.dispose();
        await pools.destroyAll();
        log.info({ dur_ms: Math.round(performance.now() - t0) }, 'drained');
      })();
      return closing;
    },
  };
  return relay;
}

/**
 * Fetch JWT issuers' key sets in the background once the relay serves: the first signed-in user
 * does not wait for it, and /ready shows an issuer that cannot be reached right away.
 */
function warmKeySets(table: RouteTable): void {
  for (const c of table.jwtClients.values()) c.keySet?.warm();
}

function closeAfterResponse(x: Exchange): void {
  const res = x.res as { headersSent: boolean; shouldKeepAlive?: boolean };
  if (x.req.httpVersionMajor === 1 && !res.headersSent) res.shouldKeepAlive = false;
}

function settingOf(s: ServerConfig, key: (typeof RESTART_KEYS)[number]): unknown {
  switch (key) {
    case 'host':
      return s.host;
    case 'port':
      return s.port;
    case 'tls':
      return Boolean(s.tls);
    case 'tls.http2':
      return s.tls ? s.tls.http2 : undefined;
    case 'limits.maxHeaderSize':
      return s.limits.maxHeaderSize;
  }
}

/** Route names added, removed or changed by a reload (for the log line; never values). */
function changedRoutes(before: CompiledRoute[], after: CompiledRoute[]): { added: string[]; removed: string[]; changed: string[] } {
  const old = new Map(before.map((r) => [r.name, JSON.stringify(r.config)]));
  const added: string[] = [];
  const changed: string[] = [];
  for (const r of after) {
    const prev = old.get(r.name);
    if (prev === undefined) added.push(r.name);
    else if (prev !== JSON.stringify(r.config)) changed.push(r.name);
    old.delete(r.name);
  }
  return { added, removed: [...old.keys()], changed };
}

function untilIdle(state: RelayState, ms: number): Promise<void> {
  if (state.active === 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      state.onIdle = undefined;
      resolve();
    }, ms);
    state.onIdle = () => {
      clearTimeout(timer);
      state.onIdle = undefined;
      resolve();
    };
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
