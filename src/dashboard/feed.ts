/**
 * The dashboard's in-process view of traffic: per-route and per-caller counters and latency
 * histograms over the last hour in one-minute buckets, plus the live tail of the last 2,000
 * exchanges. Fed by `record(x)` from RelayState.onExchangeDone — installed only while the
 * dashboard is configured, so a relay without one pays nothing.
 *
 * Bounded by construction: a fixed ring per series, at most MAX_SERIES routes and MAX_PRINCIPALS
 * callers (JWT users can be many: the rest are counted under one "(others)" series).
 *
 * Never a secret: only route names, methods, paths without their query, statuses, timings,
 * client names, user ids, token counts and cache results are kept; free text that came from an
 * error is scrubbed with the route table's redactor when a view is built.
 */
import type { Exchange } from '../server/context.js';
import type { Usage } from '../usage/usage.js';
import { bucketOf } from './latency.js';
import { MinuteRing, type MinuteSlot } from './minute-ring.js';
import { Tail } from './tail.js';

export const TAIL_SIZE = 2000;
/** Longest path kept in the tail (longer ones are cut). */
export const MAX_PATH = 300;
const MAX_SERIES = 500;
const MAX_PRINCIPALS = 1000;
export const OTHERS = '(others)';
/** The upstream timeouts of src/upstream/errors.ts, not the client's sendTimeout. */
const UPSTREAM_TIMEOUT = /\((?:firstByteTimeout|idleTimeout|timeout)\)/;
/** Route label of exchanges that matched no route (404, refused paths). */
export const NO_ROUTE = '-';

export interface LastError {
  at: number;
  type: string;
  message: string;
}

export class DashboardFeed {
  readonly all = new MinuteRing();
  readonly routes = new Map<string, MinuteRing>();
  readonly principals = new Map<string, MinuteRing>();
  readonly tail = new Tail(TAIL_SIZE);
  /** Last upstream failure per route (egress panel). */
  readonly upstreamErrors = new Map<string, LastError>();
  /** Whether any exchange ever carried §12 usage or a §13 cache result (else: "not configured"). */
  sawUsage = false;
  sawCache = false;
  sawBudget = false;
  /**
   * Each caller's current budget window on each budgeted route, as its last admitted request saw
   * it (the X-Budget-* of §12: the budget with the least room). Read from the exchange, never
   * from the store, so the dashboard costs the budget store nothing. Bounded; oldest dropped.
   */
  readonly budgetWindows = new Map<string, BudgetWindow>();
  /** Bumped on every record: the events hub sends an update only when something changed. */
  version = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  private noteBudget(route: string, who: string, h: Record<string, string>, now: number): void {
    const limit = Number(h['x-budget-limit']);
    const remaining = Number(h['x-budget-remaining']);
    const reset = Number(h['x-budget-reset']);
    if (!Number.isFinite(limit) || !Number.isFinite(remaining) || !Number.isFinite(reset)) return;
    noteBudgetIn(this.budgetWindows, { route, who, limit, remaining, resetsAt: now + reset * 1000 });
    this.sawBudget = true;
  }

  record(x: Exchange): void {
    // Route-less answers below 400 are the relay's own endpoints (health, ready, metrics): polled
    // every few seconds, they would crowd real traffic out of the tail.
    if (x.route === undefined && x.status < 400) return;
    const now = this.clock();
    const duration = performance.now() - x.start;
    const ttfb = x.upstreamHeadersAt > 0 ? x.upstreamHeadersAt - x.start : x.status > 0 ? duration : -1;
    const route = x.route?.name;
    // Real usage only: `estimated` (a budget hold charged) and `none` carry no token figures.
    const usage = typeof x.usage === 'object' ? x.usage : undefined;
    const cache = x.cache;
    const user = x.user;
    const errorType = x.errorType;
    const status = x.status;
    // A stream cut by idleTimeout/timeout after its head was sent has no error type, only an outcome.
    const timeout = errorType === 'upstream_timeout' || status === 408 || status === 504 || (x.outcome !== undefined && UPSTREAM_TIMEOUT.test(x.outcome));
    const dBucket = bucketOf(duration);
    const tBucket = ttfb >= 0 ? bucketOf(ttfb) : -1;

    add(this.all.slot(now), status, timeout, errorType, dBucket, tBucket, usage, cache);
    add(series(this.routes, route ?? NO_ROUTE, MAX_SERIES).slot(now), status, timeout, errorType, dBucket, tBucket, usage, cache);
    const who = user !== undefined ? `user:${user}` : x.client !== undefined ? `client:${x.client}` : undefined;
    if (who !== undefined) add(series(this.principals, who, MAX_PRINCIPALS).slot(now), status, timeout, errorType, dBucket, tBucket, usage, cache);

    // The X-Budget-* this exchange answered with (the ticket itself is settled and gone by now).
    const h = x.relayHeaders;
    if (route !== undefined && h?.['x-budget-limit'] !== undefined) this.noteBudget(route, who ?? `ip:${x.ip}`, h as Record<string, string>, now);
    if (usage !== undefined) this.sawUsage = true;
    if (cache !== undefined) this.sawCache = true;
    if (errorType === 'budget_exceeded' || errorType === 'budget_unavailable') this.sawBudget = true;
    if (route !== undefined && (errorType === 'upstream_unreachable' || errorType === 'upstream_error' || errorType === 'upstream_timeout')) {
      this.upstreamErrors.set(route, { at: now, type: errorType, message: x.outcome ?? errorType });
    }
    let path = x.path;
    // x.path is a slice of req.url: kept as is it would hold the whole target, query included,
    // for as long as the entry lives. Copy it (only when there is more to drop) so the tail holds
    // the path alone: bounded memory, and the query never stays reachable from here.
    if (x.query !== '' || path.length > MAX_PATH) path = ` ${path.length > MAX_PATH ? path.slice(0, MAX_PATH) : path}`.slice(1);
    this.tail.push({
      time: now - duration,
      route,
      method: x.method,
      path,
      status,
      duration,
      ttfb,
      client: x.client ?? x.ip,
      user,
      usage,
      cache,
      outcome: errorType ?? x.outcome,
    });
    this.version++;
  }
}

export interface BudgetWindow {
  route: string;
  /** `user:<id>`, `client:<name>` or `ip:<address>`. */
  who: string;
  limit: number;
  remaining: number;
  /** Epoch ms when the window resets. */
  resetsAt: number;
}

function noteBudgetIn(map: Map<string, BudgetWindow>, w: BudgetWindow): void {
  const key = `${w.route}\u0000${w.who}`;
  // Re-inserted so the map's order is least recently seen first: that one goes when full.
  if (!map.delete(key) && map.size >= MAX_PRINCIPALS) map.delete(map.keys().next().value!);
  map.set(key, w);
}

function series(map: Map<string, MinuteRing>, key: string, max: number): MinuteRing {
  let r = map.get(key);
  if (r) return r;
  if (map.size >= max) {
    r = map.get(OTHERS);
    if (r) return r;
    key = OTHERS;
  }
  r = new MinuteRing();
  map.set(key, r);
  return r;
}

function add(
  s: MinuteSlot,
  status: number,
  timeout: boolean,
  errorType: string | undefined,
  dBucket: number,
  tBucket: number,
  usage: Usage | undefined,
  cache: Exchange['cache'],
): void {
  s.requests++;
  if (timeout) s.timeouts++;
  else if (status >= 500) s.s5xx++;
  else if (status >= 400) s.s4xx++;
  else if (status >= 300) s.s3xx++;
  else if (status >= 200) s.s2xx++;
  if (errorType === 'rate_limited') s.rateLimited++;
  else if (errorType === 'budget_exceeded') s.budgetRefused++;
  s.total[dBucket]!++;
  if (tBucket >= 0) s.ttfb[tBucket]!++;
  if (usage !== undefined) {
    s.tokensIn += usage.input || 0;
    s.tokensOut += usage.output || 0;
    s.tokensTotal += usage.total || 0;
  }
  if (cache !== undefined) {
    if (cache === 'hit') s.cacheHit++;
    else if (cache === 'miss') s.cacheMiss++;
    else if (cache === 'bypass') s.cacheBypass++;
    else if (cache === 'refresh') s.cacheRefresh++;
  }
}
