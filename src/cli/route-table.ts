/** The human route table printed by `check` (prefix → upstream, auth, CORS, limit, transforms, egress). */
import chalk from 'chalk';
import type { LoadedConfig } from '../config/load.js';
import { formatCount, formatDuration } from '../config/units.js';
import type { BudgetConfig, JwtClientConfig, RouteConfig } from '../config/schema.js';
import { stripCredentials } from '../log/redact.js';
import { describeEgress } from '../upstream/egress.js';

function safeDescribe(proxy: string, upstream: string, env: Record<string, string | undefined>): string {
  try {
    return describeEgress(proxy, new URL(upstream).origin, env);
  } catch {
    return stripCredentials(proxy);
  }
}

/** `200k tokens/day by user (output)`, `300 requests/1h by ip`. */
function describeBudget(b: BudgetConfig): string {
  const per = typeof b.per === 'number' ? formatDuration(b.per) : b.per;
  const what = b.tokens !== undefined ? `${formatCount(b.tokens)} tokens` : `${formatCount(b.requests ?? 0)} requests`;
  return `${what}/${per} by ${b.by}${b.tokens !== undefined && b.count !== 'total' ? ` (${b.count})` : ''}`;
}

/** `/v1/embeddings,/v1/models POST,GET 10m scope client (redis)`: what a route caches, where. */
function describeCache(rc: RouteConfig['cache'], store: string): string {
  if (!rc) return '-';
  const parts = [rc.paths.join(','), rc.methods.join(','), `${formatDuration(rc.ttl)}${rc.maxTtl !== undefined ? `≤${formatDuration(rc.maxTtl)}` : ''}`];
  parts.push(rc.scope === 'shared' ? chalk.yellow('shared') : 'per client');
  if (rc.stream === 'bypass') parts.push('no streams');
  if (store !== 'memory') parts.push('(redis)');
  return parts.join(' ');
}

/** `unavailable`: route name → why the compiled route is disabled (e.g. a TLS file not there). */
export function describeRoutes(loaded: LoadedConfig, env: Record<string, string | undefined> = process.env, unavailable?: Map<string, string>): string {
  const c = loaded.config;
  const rows: string[][] = [['ROUTE', 'PREFIX', 'UPSTREAM', 'AUTH', 'CORS', 'RATE LIMIT', 'BUDGET', 'TRANSFORMS', 'CACHE', 'EGRESS', 'STATE']];
  c.routes.forEach((r, i) => {
    const missing = loaded.missing.filter(
      (m) => (m.path[0] === 'routes' && m.path[1] === i) || (m.path[0] === 'clients' && Array.isArray(r.auth) && r.auth.includes(String(m.path[1]))),
    );
    rows.push([
      r.name ?? r.prefix,
      r.prefix,
      r.upstream,
      r.auth === 'none' ? chalk.yellow('OPEN (none)') : r.auth.join(','),
      r.cors ? r.cors.origins.join(',') : '-',
      r.rateLimit ? `${r.rateLimit.requests}/${formatDuration(r.rateLimit.per)} by ${r.rateLimit.by}${r.rateLimit.store !== 'memory' ? ' (redis)' : ''}` : '-',
      r.budget.length ? r.budget.map(describeBudget).join('; ') : '-',
      r.transforms.length ? r.transforms.map((t) => ('module' in t ? `module:${t.module}` : Object.keys(t)[0])).join(',') : '-',
      describeCache(r.cache, c.cache.store),
      safeDescribe(r.egress?.proxy ?? c.egress.proxy, r.upstream, env),
      missing.length
        ? chalk.red(`disabled: ${[...new Set(missing.map((m) => m.name))].join(',')} unset`)
        : unavailable?.get(r.name ?? r.prefix)
          ? chalk.red(`disabled: ${unavailable.get(r.name ?? r.prefix)}`)
          : chalk.green('ok'),
    ]);
  });
  const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => plain(r[j]!).length)));
  const lines = rows.map((r, i) => {
    const line = r.map((cell, j) => cell + ' '.repeat(widths[j]! - plain(cell).length)).join('  ').trimEnd();
    return i === 0 ? chalk.bold(line) : line;
  });
  const budgeted = c.routes.some((r) => r.budget.length);
  const budgetLine = budgeted ? `budgets kept in ${c.budgets.store === 'memory' ? 'memory (this process only)' : stripCredentials(c.budgets.store)}, windows in ${c.budgets.timezone}, store down → ${c.budgets.onStoreError === 'closed' ? '503 budget_unavailable' : 'served uncounted'}\n` : '';
  const head = `listen ${c.server.tls ? 'https' : 'http'}://${c.server.host}:${c.server.port}  base paths ${c.server.basePaths.join(', ')}\n`;
  // JWT clients per route (spec §11): who signs the tokens each route accepts.
  const jwt: string[] = [];
  c.routes.forEach((r) => {
    if (r.auth === 'none') return;
    for (const name of r.auth) {
      const client = c.clients[name];
      if (client && typeof client === 'object') jwt.push(`  ${r.name ?? r.prefix} ← ${describeJwtClient(name, client.jwt)}`);
    }
  });
  const jwtBlock = jwt.length ? `${chalk.bold('JWT clients')}\n${jwt.join('\n')}\n` : '';
  const fp = c.forwardProxy ? `forward proxy on ${c.forwardProxy.host}:${c.forwardProxy.port} allowing ${c.forwardProxy.allow.join(', ')}\n` : '';
  const d = c.server.dashboard;
  const dash = d ? `dashboard at ${d.path}${d.listen ? ` on its own listener ${d.listen}` : ' (and under each base path)'}\n` : '';
  const usagePath = c.server.usagePath ? `callers read their own budgets at ${c.server.usagePath}\n` : '';
  return head + lines.join('\n') + '\n' + budgetLine + usagePath + jwtBlock + fp + dash;
}

/** One line per JWT client: issuer, key source, algorithms, audience (never the secret). */
export function describeJwtClient(name: string, cfg: JwtClientConfig): string {
  const source = cfg.jwks ? `jwks ${cfg.jwks}` : cfg.secret !== undefined ? 'secret' : `publicKey ${cfg.publicKey}`;
  const aud = Array.isArray(cfg.audience) ? cfg.audience.join('|') : cfg.audience;
  const azp = cfg.authorizedParties?.length ? `, azp ${cfg.authorizedParties.join('|')}` : '';
  return `${name}: iss ${cfg.issuer}, ${source}, alg ${cfg.algorithms.join('|')}, aud ${aud}${azp}, user claim ${cfg.user}, clock tolerance ${formatDuration(cfg.clockTolerance)}`;
}
