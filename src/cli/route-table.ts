/** The human route table printed by `check` (prefix → upstream, auth, CORS, limit, transforms, egress). */
import chalk from 'chalk';
import type { LoadedConfig } from '../config/load.js';
import type { RouteConfig } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import { stripCredentials } from '../log/redact.js';
import { describeEgress } from '../upstream/egress.js';

function safeDescribe(proxy: string, upstream: string, env: Record<string, string | undefined>): string {
  try {
    return describeEgress(proxy, new URL(upstream).origin, env);
  } catch {
    return stripCredentials(proxy);
  }
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
  const rows: string[][] = [['ROUTE', 'PREFIX', 'UPSTREAM', 'AUTH', 'CORS', 'RATE LIMIT', 'TRANSFORMS', 'CACHE', 'EGRESS', 'STATE']];
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
  const head = `listen ${c.server.tls ? 'https' : 'http'}://${c.server.host}:${c.server.port}  base paths ${c.server.basePaths.join(', ')}\n`;
  const fp = c.forwardProxy ? `forward proxy on ${c.forwardProxy.host}:${c.forwardProxy.port} allowing ${c.forwardProxy.allow.join(', ')}\n` : '';
  return head + lines.join('\n') + '\n' + fp;
}
