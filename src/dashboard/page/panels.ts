/** The panels other than the charts and the live tail: each renders its slice of the view. */
import { byId, fill, h, miniTable, table } from './dom.js';
import { clock, duration, int, ms, relative } from './format.js';
import type { RouteRow, View } from './types.js';

export function renderStatus(v: View, now: number): void {
  const s = v.status;
  const uptime = (now - s.startedAt) / 1000;
  const ready = s.ready ? (s.failing.length ? `ready · ${s.failing.length} route(s) failing` : 'ready') : s.phase;
  const items: [string, string, string?][] = [
    ['Uptime', duration(uptime)],
    ['Version', s.version],
    ['In flight', int(s.inFlight)],
    ['Open streams', int(s.openStreams)],
    ['Ready', ready, s.ready && !s.failing.length ? 's2' : 's5'],
  ];
  if (s.failing.length) items.push(['Failing', s.failing.join(', '), 's5']);
  if (s.disabled.length) items.push(['Disabled', s.disabled.join(', '), 's4']);
  fill(byId('status'), ...items.map(([k, val, cls]) => h('div', {}, h('dt', {}, k), h('dd', { class: cls ?? '' }, val))));
}

export function renderRoutes(v: View): void {
  table<RouteRow>(byId<HTMLTableElement>('routes'), 'Requests per route over the last hour', [
    { head: 'Route', cell: (r) => r.route },
    { head: 'req/min', num: true, cell: (r) => r.rpm.toFixed(1) },
    { head: 'requests', num: true, cell: (r) => int(r.requests) },
    { head: '2xx', num: true, cell: (r) => int(r.s2xx), cls: () => 's2' },
    { head: '4xx', num: true, cell: (r) => int(r.s4xx), cls: (r) => (r.s4xx ? 's4' : undefined) },
    { head: '5xx', num: true, cell: (r) => int(r.s5xx), cls: (r) => (r.s5xx ? 's5' : undefined) },
    { head: 'timeout', num: true, cell: (r) => int(r.timeouts), cls: (r) => (r.timeouts ? 's5' : undefined) },
    { head: 'first byte p50', num: true, cell: (r) => ms(r.ttfbP50) },
    { head: 'p95', num: true, cell: (r) => ms(r.ttfbP95) },
    { head: 'total p50', num: true, cell: (r) => ms(r.totalP50) },
    { head: 'p95', num: true, cell: (r) => ms(r.totalP95) },
    { head: 'tokens', num: true, cell: (r) => int(r.tokens) },
  ], v.routes);
}

export function renderUsage(v: View, now: number): void {
  renderBudgetWindows(v, now);
  const host = byId('usage');
  if (!v.usage.configured && !v.budgets.configured) {
    fill(host, h('p', { class: 'empty' }, 'Usage metering and budgets: not configured.'));
    return;
  }
  miniTable(host, 'Usage per client and user, last hour', [
    { head: 'Caller', cell: (r) => r.who },
    { head: 'kind', cell: (r) => r.kind },
    { head: 'requests', num: true, cell: (r) => int(r.requests) },
    { head: 'input', num: true, cell: (r) => int(r.input) },
    { head: 'output', num: true, cell: (r) => int(r.output) },
    { head: 'total', num: true, cell: (r) => int(r.total) },
    { head: 'budget refusals', num: true, cell: (r) => int(r.budgetRefused) },
  ], v.usage.rows, 'No metered traffic in the last hour.');
  if (!v.budgets.configured) host.append(h('p', { class: 'note' }, 'Budgets: not configured.'));
}

function renderBudgetWindows(v: View, now: number): void {
  const host = byId('budgets');
  if (!v.budgets.configured) return fill(host);
  miniTable(host, 'Budgets, current windows, as of each caller\'s last request', [
    { head: 'Caller', cell: (r) => r.who },
    { head: 'kind', cell: (r) => r.kind },
    { head: 'route', cell: (r) => r.route },
    { head: 'limit', num: true, cell: (r) => int(r.limit) },
    { head: 'remaining', num: true, cell: (r) => int(r.remaining), cls: (r) => (r.remaining <= 0 ? 's5' : r.remaining < r.limit / 10 ? 's4' : undefined) },
    { head: 'resets', cell: (r) => relative(r.resetsAt, now) },
  ], v.budgets.windows, 'No budgeted request in the current windows yet.');
}

export function renderPools(v: View, now: number): void {
  const rows = v.pools.flatMap((p) => p.keys.map((k) => ({ route: p.route, ...k })));
  miniTable(byId('pools'), 'Key pools', [
    { head: 'Route', cell: (r) => r.route },
    { head: 'Key', cell: (r) => r.alias },
    { head: 'State', cell: (r) => (r.serving ? 'serving' : `resting until ${clock(r.restingUntil)}`), cls: (r) => (r.serving ? 's2' : 's4') },
    { head: 'Last error', cell: (r) => (r.lastError ? `${r.lastError.status}, ${relative(r.lastError.at, now)}` : '–') },
  ], rows, 'No key pools configured.');
}

export function renderOAuth(v: View, now: number): void {
  miniTable(byId('oauth'), 'OAuth token sources', [
    { head: 'Route', cell: (r) => r.route },
    { head: 'Token expires', cell: (r) => (r.expiresAt ? relative(r.expiresAt, now) : 'no token yet') },
    { head: 'Last refresh', cell: (r) => (r.lastRefreshAt ? relative(r.lastRefreshAt, now) : '–') },
    { head: 'Last error', cell: (r) => r.lastError ?? '–', cls: (r) => (r.lastError ? 's5' : undefined) },
  ], v.oauth, 'No OAuth token sources configured.');
}

export function renderEgress(v: View, now: number): void {
  miniTable(byId('egress'), 'Egress per route', [
    { head: 'Route', cell: (r) => r.route },
    { head: 'Egress', cell: (r) => r.egress },
    { head: 'Last upstream error', cell: (r) => (r.lastError ? `${r.lastError.message} (${relative(r.lastError.at, now)})` : '–'), cls: (r) => (r.lastError ? 's5' : undefined) },
  ], v.egress, 'No routes.');
}

export function renderRefusals(v: View): void {
  miniTable(byId('refusals'), 'Rate-limit and budget refusals, last hour', [
    { head: 'Route', cell: (r) => r.route },
    { head: 'rate limited', num: true, cell: (r) => int(r.rateLimited) },
    { head: 'over budget', num: true, cell: (r) => (v.budgets.configured ? int(r.budgetRefused) : 'not configured') },
  ], v.refusals, 'No rate-limit or budget refusals in the last hour.');
}

export function renderCache(v: View): void {
  const c = v.cache;
  if (!c.configured) return fill(byId('cache'), h('p', { class: 'empty' }, 'Response cache: not configured.'));
  const ratio = c.ratio === null ? '–' : `${(c.ratio * 100).toFixed(1)} %`;
  fill(byId('cache'), h('dl', { class: 'strip' }, ...([['Hit ratio', ratio], ['Hits', int(c.hit)], ['Misses', int(c.miss)], ['Refreshes', int(c.refresh)], ['Bypassed', int(c.bypass)]] as const).map(([k, val]) => h('div', {}, h('dt', {}, k), h('dd', {}, val)))));
}
