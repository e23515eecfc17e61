/**
 * The relay's Prometheus metrics (prom-client). One Registry per relay — never the global default —
 * so several relays in one process (tests, embedding) keep separate numbers. Under --workers each
 * worker's registry is merged by the primary (prom-client's AggregatorRegistry: counters and
 * histograms summed, gauges summed unless marked otherwise).
 *
 * Hot path: `exchangeDone(x)` once per exchange, using label children bound per route
 * (route-series.ts) and allocation-free counters and histograms (lean-counter.ts,
 * lean-histogram.ts); prom-client provides the registry, the text format, gauges and the
 * cluster aggregation. Gauges of live state (exchanges in flight, open SSE streams) cost nothing per
 * request: they are computed when scraped.
 *
 * prom-client (~90 modules with its optional OpenTelemetry import) is not loaded at startup: the
 * lean metrics count from the first exchange, and the Registry (with the gauges) is built on the
 * first scrape, or earlier when something called loadPromClient() (serve --workers does).
 */
import type { Registry } from 'prom-client';
import { loadPromClient, promClient, type PromClient } from './prom-client.js';
import type { Exchange } from '../server/context.js';
import { DURATION_BUCKETS, OVERHEAD_BUCKETS, TRANSFORM_BUCKETS, UPSTREAM_BUCKETS } from './buckets.js';
import { LeanCounter, type LeanCounterSeries } from './lean-counter.js';
import { LeanHistogram } from './lean-histogram.js';
import { RouteSeries, type SeriesMetrics } from './route-series.js';
import type { MetricsSink } from './types.js';

export interface RelayMetrics extends MetricsSink {
  /** The prom-client registry; only after loadPromClient() has resolved (throws before). */
  readonly registry: Registry;
  /** Record one finished exchange (called by the server layer, exactly once per exchange). */
  exchangeDone(x: Exchange): void;
  /** A config reload was applied (`ok`) or rejected. */
  configReload(ok: boolean): void;
  /** A response-cache store operation failed or timed out (served from upstream). */
  cacheStoreError(op: 'get' | 'set'): void;
  /** The memory cache evicted an entry to make room. */
  cacheEvicted(): void;
  /** The Prometheus text of this relay (one process). */
  text(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsOptions {
  version: string;
  /** Exchanges in flight right now (read at scrape time). */
  inFlight: () => Iterable<Exchange>;
  /** Bytes and entries in the memory cache store (read at scrape time). */
  cacheStats?: () => { bytes: number; entries: number };
}

/** Route label of exchanges that matched no route (404, bad paths). */
export const NO_ROUTE = '-';

export function createRelayMetrics(opts: MetricsOptions): RelayMetrics {
  // The lean metrics are ours; they join the prom-client registry when it is built.
  const lean: LeanMetric[] = [];
  const pending: Pick<Registry, 'registerMetric'> = { registerMetric: (metric) => void lean.push(metric) };
  const m: SeriesMetrics = {
    requests: new LeanCounter('ai_relay_requests_total', 'Exchanges finished, by route (- when none matched), status class (2xx, 4xx, …; none: the client left before any status) and relay client name (- when none).', ['route', 'status_class', 'client'], pending),
    bytesIn: new LeanCounter('ai_relay_request_bytes_total', 'Request body bytes received from clients.', ['route'], pending),
    bytesOut: new LeanCounter('ai_relay_response_bytes_total', 'Response body bytes sent to clients.', ['route'], pending),
    rateLimited: new LeanCounter('ai_relay_rate_limited_total', 'Requests refused with 429 by the route\'s rate limit (upstream 429s are not counted here).', ['route'], pending),
    upstream: new LeanHistogram('ai_relay_upstream_latency_seconds', 'Time from dispatching the upstream request to its response headers.', ['route'], UPSTREAM_BUCKETS, pending),
    overhead: new LeanHistogram('ai_relay_overhead_seconds', 'Time the relay spent before dispatching upstream (parsing, auth, rate limit, retries).', ['route'], OVERHEAD_BUCKETS, pending),
    duration: new LeanHistogram('ai_relay_exchange_duration_seconds', 'Whole exchange, accept to last byte (streams included).', ['route'], DURATION_BUCKETS, pending),
    transforms: new LeanCounter('ai_relay_transforms_total', 'Response transforms run, by result (failed: the original body was sent).', ['route', 'result'], pending),
    transformTime: new LeanHistogram('ai_relay_transform_duration_seconds', 'Time spent in response transforms.', ['route'], TRANSFORM_BUCKETS, pending),
    tokenFetches: new LeanCounter('ai_relay_token_fetches_total', 'OAuth token fetches, by result.', ['route', 'result'], pending),
    keyRests: new LeanCounter('ai_relay_key_rests_total', 'Key-pool keys put to rest after 401/403/429, by key index (never the key).', ['route', 'key'], pending),
    cacheRequests: new LeanCounter('ai_relay_cache_requests_total', 'Requests on cached paths, by cache result: hit (also single-flight followers), miss, bypass, refresh.', ['route', 'result'], pending),
  };
  // Tokens by route, client and kind: series bound per route+client on first use.
  const tokens = new LeanCounter('ai_relay_tokens_total', 'Tokens the upstream reported using (usage: auto), by route, relay client name (- when none) and kind (input, output).', ['route', 'client', 'kind'], pending);
  const tokenSeries = new Map<string, { input: LeanCounterSeries; output: LeanCounterSeries }>();
  const tokensOf = (route: string, client: string) => {
    const key = `${route}\u0000${client}`;
    let t = tokenSeries.get(key);
    if (!t) {
      t = { input: tokens.labels(route, client, 'input'), output: tokens.labels(route, client, 'output') };
      tokenSeries.set(key, t);
    }
    return t;
  };
  const refusals = new LeanCounter('ai_relay_budget_refusals_total', 'Requests refused by a route budget, by type (budget_exceeded: 429, no room; budget_unavailable: 503, store down).', ['route', 'type'], pending);
  const cacheStoreErrors = new LeanCounter('ai_relay_cache_store_errors_total', 'Response-cache store operations that failed or timed out, by operation (the request was served from upstream).', ['op'], pending);
  const cacheGetErrors = cacheStoreErrors.labels('get');
  const cacheSetErrors = cacheStoreErrors.labels('set');
  const cacheEvictions = new LeanCounter('ai_relay_cache_evictions_total', 'Memory-cache entries evicted to stay within cache.maxSize.', [], pending).labels();
  const reloads = new LeanCounter('ai_relay_config_reloads_total', 'Config reloads, by result (failed: the old config kept serving).', ['result'], pending);
  const reloadOk = reloads.labels('ok');
  const reloadFailed = reloads.labels('failed');
  // Zero series up front so rate()/increase() see the first reload and alerts have a baseline.
  reloadOk.inc(0);
  reloadFailed.inc(0);

  let registry: Registry | undefined;
  const built = (prom: PromClient): Registry => (registry ??= buildRegistry(prom, lean, opts));

  const series = new Map<string, RouteSeries>();
  const of = (route: string) => {
    let s = series.get(route);
    if (!s) {
      s = new RouteSeries(m, route);
      series.set(route, s);
    }
    return s;
  };

  return {
    get registry() {
      const prom = promClient();
      if (!prom) throw new Error('prom-client is not loaded yet: await loadPromClient() first');
      return built(prom);
    },
    get contentType() {
      const prom = promClient();
      return prom ? built(prom).contentType : PROMETHEUS_TEXT;
    },
    exchangeDone(x) {
      const route = x.route;
      // Route-less answers below 400 are the relay's own endpoints (health, ready, metrics).
      if (!route && x.status < 400) return;
      const s = of(route ? route.name : NO_ROUTE);
      s.request(x.status, x.client).inc();
      if (x.bytesIn > 0) s.bytesIn.inc(x.bytesIn);
      if (x.bytesOut > 0) s.bytesOut.inc(x.bytesOut);
      if (x.upstreamStart > 0) {
        s.overhead.observe((x.upstreamStart - x.start) / 1000);
        if (x.upstreamHeadersAt > 0) s.upstream.observe((x.upstreamHeadersAt - x.upstreamStart) / 1000);
      } else if (x.budgetRefusal && route) refusals.labels(route.name, x.budgetRefusal).inc();
      else if (x.status === 429 && route) s.rateLimited.inc();
      s.duration.observe((performance.now() - x.start) / 1000);
      const u = x.usage;
      if (route && typeof u === 'object') {
        const t = tokensOf(route.name, x.client ?? '-');
        if (u.input > 0) t.input.inc(u.input);
        if (u.output > 0) t.output.inc(u.output);
      }
      if (x.cache !== undefined) s.cache(x.cache).inc();
    },
    cacheStoreError(op) {
      (op === 'get' ? cacheGetErrors : cacheSetErrors).inc();
    },
    cacheEvicted() {
      cacheEvictions.inc();
    },
    configReload(ok) {
      (ok ? reloadOk : reloadFailed).inc();
    },
    transformDone(route, ok, ms) {
      of(route).transform(ok, ms / 1000);
    },
    tokenFetch(route, ok) {
      of(route).token(ok);
    },
    keyRested(route, index) {
      of(route).keyRested(index);
    },
    text: async () => built(await loadPromClient()).metrics(),
  };
}

type LeanMetric = Parameters<Registry['registerMetric']>[0];

/** prom-client's Registry.PROMETHEUS_CONTENT_TYPE, for a content type asked before the registry exists. */
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** The registry: our lean metrics plus prom-client gauges computed at scrape time. */
function buildRegistry(prom: PromClient, lean: LeanMetric[], opts: MetricsOptions): Registry {
  const { Counter, Gauge, Registry } = prom;
  const registry = new Registry();
  const registers = [registry];
  for (const metric of lean) registry.registerMetric(metric);
  new Gauge({
    name: 'ai_relay_exchanges_in_flight',
    help: 'Exchanges accepted and not finished yet.',
    registers,
    collect() {
      let n = 0;
      for (const _ of opts.inFlight()) n++;
      this.set(n);
    },
  });
  new Gauge({
    name: 'ai_relay_sse_streams_open',
    help: 'Server-sent event responses being streamed to clients right now.',
    registers,
    collect() {
      let n = 0;
      for (const x of opts.inFlight()) if (isSse(x)) n++;
      this.set(n);
    },
  });
  if (opts.cacheStats) {
    const stats = opts.cacheStats;
    new Gauge({ name: 'ai_relay_cache_bytes', help: 'Bytes held by the memory response cache.', registers, collect() { this.set(stats().bytes); } });
    new Gauge({ name: 'ai_relay_cache_entries', help: 'Entries held by the memory response cache.', registers, collect() { this.set(stats().entries); } });
  }
  new Gauge({ name: 'ai_relay_info', help: 'Always 1; the version label tells which build runs.', labelNames: ['version'], aggregator: 'max', registers }).labels(opts.version).set(1);
  new Gauge({
    name: 'ai_relay_process_resident_memory_bytes',
    help: 'Resident memory of the relay process(es).',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Counter({
    name: 'ai_relay_process_cpu_seconds_total',
    help: 'CPU time (user + system) used by the relay process(es).',
    registers,
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });

  return registry;
}

const SSE_HEAD = /\r\ncontent-type:[ \t]*text\/event-stream/i;

/** Scrape time only. HTTP/1 writeHead(status, headers) leaves getHeader() empty: read the head sent. */
export function isSse(x: Exchange): boolean {
  const res = x.res;
  if (!res.headersSent) return false;
  const ct = res.getHeader('content-type');
  if (typeof ct === 'string') return ct.startsWith('text/event-stream');
  const head = (res as { _header?: unknown })._header;
  return typeof head === 'string' && SSE_HEAD.test(head);
}
