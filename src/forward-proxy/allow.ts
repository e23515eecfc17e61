/**
 * The forward proxy's target allow-list: `host:port` entries, exact (`api.openai.com:443`) or
 * with a leading wildcard label (`*.googleapis.com:443` matches every subdomain, not the bare
 * domain). `*` as the port allows any port; a lone `*` host allows any host. An entry without a
 * port means port 443.
 */
import { isIP } from 'node:net';

export interface Target {
  /** Lowercased, without brackets or a trailing dot. */
  host: string;
  port: number;
}

interface Rule {
  host: string;
  wildcard: boolean;
  port: number | '*';
}

export function normalizeHost(h: string): string {
  let host = h.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/** Parses a CONNECT request target `host:port` (`[v6]:port`); undefined when malformed. */
export function parseAuthority(authority: string): Target | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/[\]]+):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = normalizeHost(m[1]!);
  if (m[1]!.startsWith('[') && isIP(host) !== 6) return undefined;
  return { host, port };
}

function parseRule(entry: string): Rule {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}|\*))?$/.exec(entry.trim());
  const rawHost = m ? m[1]! : entry.trim();
  const port = m?.[2] === undefined ? 443 : m[2] === '*' ? '*' : Number(m[2]);
  const host = normalizeHost(rawHost);
  if (host.startsWith('*.')) return { host: host.slice(2), wildcard: true, port };
  return { host, wildcard: false, port };
}

export function compileAllow(entries: readonly string[]): (t: Target) => boolean {
  const rules = entries.map(parseRule);
  return (t) =>
    rules.some((r) => {
      if (r.port !== '*' && r.port !== t.port) return false;
      if (r.host === '*') return true;
      if (r.wildcard) return t.host.endsWith(`.${r.host}`);
      return t.host === r.host;
    });
}

export function formatTarget(t: Target): string {
  return isIP(t.host) === 6 ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}
