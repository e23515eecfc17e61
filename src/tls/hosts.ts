/**
 * Host names for certificate SANs. A certificate with a malformed name is silently useless (the
 * browser just says "not secure"), so names are checked up front and refused with the reason.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { UsageError } from '../cli/errors.js';

/** One SAN entry: DNS names and IP literals are different GeneralName types (RFC 5280 §4.2.1.6). */
export interface SanEntry {
  type: 'dns' | 'ip';
  value: string;
}

export const DEFAULT_CERT_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `host` cannot go into a certificate, or undefined when it can. */
export function hostProblem(host: string): string | undefined {
  if (host.length === 0) return 'empty host name';
  if (/\s/.test(host)) return 'contains whitespace';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) return 'looks like a URL; give the host name only (e.g. example.com)';
  if (host.includes('/')) return 'contains "/"; give the host name only';
  const ip = ipLiteral(host);
  if (ip !== undefined) return host.includes('%') ? 'IPv6 zone ids (%…) cannot appear in a certificate' : undefined;
  if (host.includes(':')) return 'contains ":" but is not an IPv6 address (ports do not belong in a certificate)';
  const ascii = toAsciiName(host);
  if (ascii === undefined) return 'not a valid internationalised domain name';
  if (ascii.length > 253) return 'longer than 253 characters';
  const labels = ascii.split('.');
  if (labels.some((l) => l === '')) return 'empty label (two dots in a row, or a leading dot)';
  for (const [i, label] of labels.entries()) {
    if (label === '*') {
      if (i !== 0) return 'a wildcard "*" may only be the whole leftmost label (*.example.com)';
      if (labels.length < 3) return 'a wildcard needs at least two labels after it (*.example.com, not *.com)';
      continue;
    }
    if (label.includes('*')) return 'a wildcard "*" may only be the whole leftmost label (*.example.com)';
    if (label.length > 63) return `label "${label.slice(0, 20)}…" is longer than 63 characters`;
    if (label.includes('_')) return 'underscores are not allowed in certificate host names';
    if (!LABEL.test(label)) return `label "${label}" must use letters, digits and "-", and not start or end with "-"`;
  }
  // WHATWG URL parsing treats a numeric last label as IPv4, so "1.2.3" or "10.0.0.256" can never
  // match a DNS SAN: it is a mistyped address.
  if (/^(0x[0-9a-f]*|\d+)$/.test(labels[labels.length - 1]!)) return 'looks like an IP address but is not a valid IPv4 or IPv6 literal';
  return undefined;
}

/** Turns validated hosts into SAN entries, deduplicated, in order. Throws UsageError with the reason. */
export function toSanEntries(hosts: readonly string[]): SanEntry[] {
  if (hosts.length === 0) throw new UsageError('at least one host is needed for the certificate');
  const seen = new Set<string>();
  const out: SanEntry[] = [];
  for (const raw of hosts) {
    const host = raw.trim();
    const problem = hostProblem(host);
    if (problem) throw new UsageError(`invalid host ${JSON.stringify(raw)}: ${problem}`);
    const ip = ipLiteral(host);
    const entry: SanEntry = ip !== undefined ? { type: 'ip', value: ip } : { type: 'dns', value: toAsciiName(host)! };
    const key = `${entry.type}:${entry.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(entry);
  }
  return out;
}

/** The bare address when `host` is an IPv4/IPv6 literal ("[::1]" accepted), else undefined. */
function ipLiteral(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(bare)) return bare;
  if (isIPv6(bare)) return bare.toLowerCase();
  return undefined;
}

/** Lower-cased punycode form with a trailing root dot dropped; undefined when IDNA refuses it. */
function toAsciiName(host: string): string | undefined {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (/^[\x21-\x7e]*$/.test(name)) return name.toLowerCase();
  const wildcard = name.startsWith('*.');
  const ascii = domainToASCII(wildcard ? name.slice(2) : name);
  if (!ascii) return undefined;
  return wildcard ? `*.${ascii}` : ascii;
}
