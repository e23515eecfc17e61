/**
 * Proxy environment variables, read the way curl reads them, and resolved once per upstream
 * origin when the route table is compiled (not per request: the answer cannot change while the
 * process runs, and `check` can print it).
 *
 * - `https://` origins use `https_proxy`/`HTTPS_PROXY`, `http://` origins `http_proxy`/`HTTP_PROXY`,
 *   both falling back to `all_proxy`/`ALL_PROXY`; the lowercase form wins, an empty value counts
 *   as unset.
 * - `no_proxy`/`NO_PROXY`: a comma (or space) separated list; `*` alone matches everything;
 *   `example.com`, `.example.com` and `*.example.com` all match example.com and every subdomain;
 *   `host:port` matches that port only; IP literals (IPv6 with or without brackets) match exactly;
 *   CIDR blocks (`10.0.0.0/8`, `fd00::/8`) match IP-literal hosts (curl ≥ 7.86 does the same).
 *   Names are never resolved to test them against IP entries, as curl.
 */
import { BlockList, isIP } from 'node:net';

export type Env = Record<string, string | undefined>;

function pick(env: Env, name: string): string | undefined {
  const lower = env[name.toLowerCase()];
  if (lower !== undefined && lower.trim() !== '') return lower.trim();
  const upper = env[name.toUpperCase()];
  if (upper !== undefined && upper.trim() !== '') return upper.trim();
  return undefined;
}

/** The proxy URL the environment selects for this origin, or 'none' (direct). */
export function resolveEnvProxy(origin: string, env: Env): string | 'none' {
  const url = new URL(origin);
  const proxy =
    (url.protocol === 'https:' ? pick(env, 'https_proxy') : pick(env, 'http_proxy')) ?? pick(env, 'all_proxy');
  if (proxy === undefined) return 'none';
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (matchesNoProxy(url.hostname, port, pick(env, 'no_proxy') ?? '')) return 'none';
  return proxy;
}

/** True when `host:port` is excluded from proxying by a NO_PROXY list. */
export function matchesNoProxy(hostname: string, port: number, list: string): boolean {
  const host = normalizeHost(hostname);
  const hostIsIp = isIP(host) !== 0;
  for (const raw of list.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const parsed = parseEntry(entry);
    if (parsed.port !== undefined && parsed.port !== port) continue;
    if (parsed.cidr) {
      if (hostIsIp && cidrContains(parsed.cidr, host)) return true;
      continue;
    }
    const name = normalizeHost(parsed.host.replace(/^\*?\./, ''));
    if (!name) continue;
    if (isIP(name) !== 0) {
      if (hostIsIp && sameIp(name, host)) return true;
      continue;
    }
    if (!hostIsIp && (host === name || host.endsWith(`.${name}`))) return true;
  }
  return false;
}

interface Entry {
  host: string;
  port?: number;
  cidr?: { base: string; prefix: number };
}

function parseEntry(entry: string): Entry {
  // [v6]:port or [v6]
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracket) return withPort({ host: bracket[1]! }, bracket[2]);
  const slash = entry.indexOf('/');
  if (slash > 0) {
    const base = entry.slice(0, slash);
    const prefix = Number(entry.slice(slash + 1));
    if (isIP(base) !== 0 && Number.isInteger(prefix)) return { host: base, cidr: { base, prefix } };
    return { host: entry };
  }
  // host:port, but a bare IPv6 literal has several colons and no port.
  const colons = entry.split(':').length - 1;
  if (colons === 1) {
    const [h, p] = entry.split(':') as [string, string];
    return withPort({ host: h }, p);
  }
  return { host: entry };
}

function withPort(e: Entry, port: string | undefined): Entry {
  if (port !== undefined && /^\d+$/.test(port)) e.port = Number(port);
  return e;
}

function normalizeHost(h: string): string {
  let host = h.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

function family(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

function sameIp(a: string, b: string): boolean {
  if (isIP(a) !== isIP(b)) return false;
  const list = new BlockList();
  list.addAddress(a, family(a));
  return list.check(b, family(b));
}

function cidrContains(cidr: { base: string; prefix: number }, ip: string): boolean {
  const fam = family(cidr.base);
  const max = fam === 'ipv6' ? 128 : 32;
  if (cidr.prefix < 0 || cidr.prefix > max || family(ip) !== fam) return false;
  const list = new BlockList();
  list.addSubnet(cidr.base, cidr.prefix, fam);
  return list.check(ip, fam);
}
