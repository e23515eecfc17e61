/**
 * The bucket key of a request (route `rateLimit.by`).
 *
 * - `by: client` — the relay client's name from `clients` (its token proves it); on an open
 *   route (`auth: none`) there is no client, so the key falls back to the IP.
 * - `by: ip` — the client IP from `clientIp()` (socket, or X-Forwarded-For behind a trusted
 *   front proxy). IPv6 addresses are keyed by their /64: one subscriber line or one VPS gets a
 *   whole /64 and can rotate through 2^64 addresses, which would otherwise mean 2^64 buckets.
 *
 * - `by: user` — a JWT client's verified user (spec §11), keyed by client name and user together;
 *   requests without a user (shared tokens, open routes) fall back to the IP.
 *
 * Prefixes `c:`, `u:` and `ip:` keep a client named like an address from sharing an IP's bucket.
 */
import { isIP } from 'node:net';

export function rateLimitKey(by: 'client' | 'ip' | 'user', clientName: string | undefined, ip: string, user?: string): string {
  if (by === 'client' && clientName) return `c:${clientName}`;
  // Client names cannot contain ':', so `client:user` is unambiguous and two issuers never share.
  if (by === 'user' && clientName && user !== undefined) return `u:${clientName}:${user}`;
  return `ip:${ipBucket(ip)}`;
}

/** IPv4 as is; IPv6 reduced to its /64 network (`2001:db8:1:2::/64`). */
export function ipBucket(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const groups = expandIpv6(ip);
  if (!groups) return ip;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** Eight 16-bit groups, or undefined. Handles `::` and an embedded IPv4 tail. */
function expandIpv6(ip: string): number[] | undefined {
  const lastColon = ip.lastIndexOf(':');
  if (ip.indexOf('.', lastColon) > 0) {
    // ::ffff:1.2.3.4 style: expand with two zero groups, then put the IPv4 bytes in them.
    const v4 = ip.slice(lastColon + 1).split('.').map(Number);
    const head = expandIpv6(`${ip.slice(0, lastColon + 1)}0:0`);
    if (!head) return undefined;
    head[6] = ((v4[0] ?? 0) << 8) | (v4[1] ?? 0);
    head[7] = ((v4[2] ?? 0) << 8) | (v4[3] ?? 0);
    return head;
  }
  const [left = '', right] = ip.split('::');
  const l = left ? left.split(':') : [];
  const r = right !== undefined && right !== '' ? right.split(':') : [];
  const fill = right === undefined ? 0 : 8 - l.length - r.length;
  if (fill < 0) return undefined;
  const parts = [...l, ...Array<string>(fill).fill('0'), ...r];
  if (parts.length !== 8) return undefined;
  return parts.map((p) => parseInt(p, 16));
}
