/**
 * Builds the document the page renders — the same JSON for `api/snapshot`, the SSE snapshot and
 * (with only the new tail entries) each SSE update. Built once per second at most, never per
 * request. Everything here is a name, a number or scrubbed, truncated text: no key, token,
 * header, query string or body ever enters it.
 */
import type { RouteTable } from '../routing/table.js';
import { NO_ROUTE, OTHERS, type DashboardFeed } from './feed.js';
import { LATENCY_BUCKETS, quantile } from './latency.js';
import { minuteStart, type MinuteSlot } from './minute-ring.js';
import type { TailEntry } from './tail.js';

export interface RelaySource {
  version: string;
  startedAt: number;
  phase(): string;
  inFlight(): number;
  openStreams(): number;
  table(): RouteTable;
}

export interface RouteRow {
  route: string;
  rpm: number;
  requests: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  timeouts: number;
  ttfbP50: number | null;
  ttfbP95: number | null;
  totalP50: number | null;
  totalP95: number | null;
  tokens: number;
  rateLimited: number;
  budgetRefused: number;
}

export interface DashboardView {
  type: 'snapshot' | 'update';
  now: number;
  status: { version: string; startedAt: number; uptime: number; inFlight: number; openStreams: number; phase: string; ready: boolean; failing: string[]; disabled: string[] };
  routes: RouteRow[];
  series: { t: number[]; requests: number[]; p50: (number | null)[]; p95: (number | null)[]; ttfbP95: (number | null)[] };
  tail: TailEntry[];
  tailSeq: number;
  usage: { configured: boolean; rows: { who: string; kind: 'client' | 'user' | 'other'; requests: number; input: number; output: number; total: number; budgetRefused: number }[] };
  budgets: { configured: boolean; refused: number; windows: { route: string; who: string; kind: 'client' | 'user' | 'ip'; limit: number; remaining: number; resetsAt: number }[] };
  pools: { route: string; keys: { alias: string; serving: boolean; restingUntil: number; lastError: { status: number; at: number } | null }[] }[];
  oauth: { route: string; expiresAt: number | null; lastRefreshAt: number | null; lastError: string | null }[];
  egress: { route: string; egress: string; lastError: { at: number; type: string; message: string } | null }[];
  refusals: { route: string; rateLimited: number; budgetRefused: number }[];
  cache: { configured: boolean; hit: number; miss: number; bypass: number; refresh: number; ratio: number | null };
}

export function buildView(feed: DashboardFeed, src: RelaySource, type: DashboardView['type'], tailAfter: number, now = Date.now()): DashboardView {
  const table = src.table();
  const redactor = table.redactor;
  // The same few strings (paths, methods, client names) fill most of a 2,000-entry tail: each is
  // scrubbed once per view, not once per entry.
  const seen = new Map<number, Map<string, string>>();
  const text = (s: string, max: number) => {
    let m = seen.get(max);
    if (!m) seen.set(max, (m = new Map()));
    let out = m.get(s);
    if (out === undefined) {
      const clean = redactor.size ? redactor.scrub(s) : s;
      out = clean.length > max ? `${clean.slice(0, max)}…` : clean;
      if (m.size < 10_000) m.set(s, out);
    }
    return out;
  };

  const routes: RouteRow[] = [];
  const names = new Set(table.routes.map((r) => r.name));
  for (const name of names) if (!feed.routes.has(name)) routes.push(routeRow(name, [], now));
  for (const [name, ring] of feed.routes) routes.push(routeRow(name, ring.recent(now), now));
  routes.sort((a, b) => (a.route === NO_ROUTE ? 1 : b.route === NO_ROUTE ? -1 : a.route.localeCompare(b.route)));

  const hour = feed.all.recent(now);
  const series = { t: [] as number[], requests: [] as number[], p50: [] as (number | null)[], p95: [] as (number | null)[], ttfbP95: [] as (number | null)[] };
  const currentMinute = Math.floor(now / 60_000);
  hour.forEach((s, i) => {
    series.t.push(minuteStart(currentMinute - hour.length + 1 + i) / 1000);
    series.requests.push(s ? s.requests : 0);
    series.p50.push(s ? quantile(s.total, 0.5) : null);
    series.p95.push(s ? quantile(s.total, 0.95) : null);
    series.ttfbP95.push(s ? quantile(s.ttfb, 0.95) : null);
  });

  const usageRows: DashboardView['usage']['rows'] = [];
  for (const [key, ring] of feed.principals) {
    const sum = sumSlots(ring.recent(now));
    if (sum.requests === 0) continue;
    const kind = key === OTHERS ? 'other' : key.startsWith('user:') ? 'user' : 'client';
    const who = kind === 'other' ? OTHERS : key.slice(key.indexOf(':') + 1);
    usageRows.push({ who: text(who, 100), kind, requests: sum.requests, input: sum.tokensIn, output: sum.tokensOut, total: sum.tokensTotal, budgetRefused: sum.budgetRefused });
  }
  usageRows.sort((a, b) => b.total - a.total || b.requests - a.requests);
  usageRows.length = Math.min(usageRows.length, 200);

  const windows: DashboardView['budgets']['windows'] = [];
  for (const w of feed.budgetWindows.values()) {
    if (w.resetsAt <= now) continue; // that window is over: its figures no longer say anything
    const colon = w.who.indexOf(':');
    windows.push({ route: text(w.route, 100), who: text(w.who.slice(colon + 1), 100), kind: w.who.slice(0, colon) as 'client' | 'user' | 'ip', limit: w.limit, remaining: w.remaining, resetsAt: w.resetsAt });
  }
  // Least room first: who is about to be refused.
  windows.sort((a, b) => a.remaining / (a.limit || 1) - b.remaining / (b.limit || 1));
  windows.length = Math.min(windows.length, 200);

  const pools: DashboardView['pools'] = [];
  const oauth: DashboardView['oauth'] = [];
  const egress: DashboardView['egress'] = [];
  const failing: string[] = [];
  const disabled: string[] = [];
  for (const r of table.routes) {
    if (r.disabledReason) disabled.push(r.name);
    else if (r.credentials?.problem() || r.transformProblem?.()) failing.push(r.name);
    const view = r.credentials?.describe?.();
    if (view?.kind === 'keys') {
      pools.push({ route: r.name, keys: view.keys.map((k) => ({ alias: k.alias, serving: k.restingUntil === 0, restingUntil: k.restingUntil, lastError: k.lastError ?? null })) });
    } else if (view?.kind === 'oauth') {
      oauth.push({ route: r.name, expiresAt: view.expiresAt ?? null, lastRefreshAt: view.lastRefreshAt ?? null, lastError: view.lastError === undefined ? null : text(view.lastError, 300) });
    }
    const e = feed.upstreamErrors.get(r.name);
    egress.push({ route: r.name, egress: r.egress, lastError: e ? { at: e.at, type: e.type, message: text(e.message, 300) } : null });
  }

  const refusals = routes.filter((r) => r.rateLimited || r.budgetRefused).map((r) => ({ route: r.route, rateLimited: r.rateLimited, budgetRefused: r.budgetRefused }));
  const total = sumSlots(hour);
  const lookups = total.cacheHit + total.cacheMiss + total.cacheRefresh;
  const phase = src.phase();
  return {
    type,
    now,
    status: {
      version: src.version,
      startedAt: src.startedAt,
      uptime: Math.round((now - src.startedAt) / 1000),
      inFlight: src.inFlight(),
      openStreams: src.openStreams(),
      phase,
      ready: phase === 'ready',
      failing,
      disabled,
    },
    routes,
    series,
    tail: feed.tail.since(tailAfter, text),
    tailSeq: feed.tail.lastSeq,
    usage: { configured: feed.sawUsage || budgetsConfigured(table), rows: usageRows },
    budgets: { configured: feed.sawBudget || budgetsConfigured(table), refused: total.budgetRefused, windows },
    pools,
    oauth,
    egress,
    refusals,
    cache: {
      configured: feed.sawCache || cacheConfigured(table),
      hit: total.cacheHit,
      miss: total.cacheMiss,
      bypass: total.cacheBypass,
      refresh: total.cacheRefresh,
      ratio: lookups ? Math.round((total.cacheHit / lookups) * 1000) / 1000 : null,
    },
  };
}

function routeRow(route: string, slots: (MinuteSlot | undefined)[], now: number): RouteRow {
  const sum = sumSlots(slots);
  // Requests per minute over the last five minutes, the current (partial) minute pro rata.
  const last5 = sumSlots(slots.slice(-5)).requests;
  const intoMinute = (now % 60_000) / 60_000;
  const rpm = last5 ? Math.round((last5 / (4 + Math.max(intoMinute, 1 / 60))) * 10) / 10 : 0;
  return {
    route,
    rpm,
    requests: sum.requests,
    s2xx: sum.s2xx,
    s3xx: sum.s3xx,
    s4xx: sum.s4xx,
    s5xx: sum.s5xx,
    timeouts: sum.timeouts,
    ttfbP50: quantile(sum.ttfb, 0.5),
    ttfbP95: quantile(sum.ttfb, 0.95),
    totalP50: quantile(sum.total, 0.5),
    totalP95: quantile(sum.total, 0.95),
    tokens: sum.tokensTotal,
    rateLimited: sum.rateLimited,
    budgetRefused: sum.budgetRefused,
  };
}

interface Sum extends Omit<MinuteSlot, 'reset' | 'minute' | 'ttfb' | 'total'> {
  ttfb: number[];
  total: number[];
}

function sumSlots(slots: (MinuteSlot | undefined)[]): Sum {
  const out: Sum = {
    requests: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0, timeouts: 0, rateLimited: 0, budgetRefused: 0,
    tokensIn: 0, tokensOut: 0, tokensTotal: 0, cacheHit: 0, cacheMiss: 0, cacheBypass: 0, cacheRefresh: 0,
    ttfb: new Array<number>(LATENCY_BUCKETS).fill(0),
    total: new Array<number>(LATENCY_BUCKETS).fill(0),
  };
  for (const s of slots) {
    if (!s) continue;
    for (const k of NUMERIC) out[k] += s[k];
    for (let i = 0; i < LATENCY_BUCKETS; i++) {
      out.ttfb[i]! += s.ttfb[i]!;
      out.total[i]! += s.total[i]!;
    }
  }
  return out;
}

const NUMERIC = ['requests', 's2xx', 's3xx', 's4xx', 's5xx', 'timeouts', 'rateLimited', 'budgetRefused', 'tokensIn', 'tokensOut', 'tokensTotal', 'cacheHit', 'cacheMiss', 'cacheBypass', 'cacheRefresh'] as const;

function budgetsConfigured(table: RouteTable): boolean {
  return table.config.routes.some((r) => r.budget.length > 0);
}

function cacheConfigured(table: RouteTable): boolean {
  return table.config.routes.some((r) => r.cache !== undefined);
}
