/**
 * Which address is "the client" (spec §3 `server.trustProxy`, §4 step 6, §10 "Client addresses").
 *
 * Without trustProxy the answer is the socket's peer address: X-Forwarded-For is whatever the
 * caller chose to write, so believing it would let anyone pick their own rate-limit bucket.
 *
 * With trustProxy the relay sits behind a front proxy (nginx, a load balancer) that appends the
 * address it saw to X-Forwarded-For. We walk the chain from the right — socket peer first, then
 * the X-Forwarded-For entries right to left — skipping hops that are *trusted proxies*, and
 * answer the first address that is not one. Left of that point the header is client-written and
 * ignored, so a spoofed `X-Forwarded-For: 1.2.3.4` cannot escape its bucket.
 *
 * Trusted proxy = an address that cannot be a visitor on the public Internet: loopback
 * (127.0.0.0/8, ::1), private networks (10/8, 172.16/12, 192.168/16, IPv6 unique-local fc00::/7)
 * and link-local (169.254/16, fe80::/10). That covers nginx on the same host, docker bridges and
 * VPC load balancers. A front proxy on a public address (a CDN edge) is NOT trusted: its address
 * is answered, i.e. all its visitors share one bucket — the safe failure.
 *
 * If every hop is trusted (a visitor on the LAN), the left-most valid address is the client.
 * An entry that is not an IP address ends the walk at the last valid hop: garbage written by a
 * caller must never become a bucket key of the caller's choosing.
 */
import { BlockList, isIP } from 'node:net';

let trusted: BlockList | undefined;

/** Built on first use, not at import time. */
function trustedProxies(): BlockList {
  if (trusted) return trusted;
  const b = new BlockList();
  b.addSubnet('127.0.0.0', 8, 'ipv4');
  b.addSubnet('10.0.0.0', 8, 'ipv4');
  b.addSubnet('172.16.0.0', 12, 'ipv4');
  b.addSubnet('192.168.0.0', 16, 'ipv4');
  b.addSubnet('169.254.0.0', 16, 'ipv4');
  b.addAddress('::1', 'ipv6');
  b.addSubnet('fc00::', 7, 'ipv6');
  b.addSubnet('fe80::', 10, 'ipv6');
  trusted = b;
  return b;
}

/**
 * Canonical text of an address: `::ffff:1.2.3.4` (IPv4 seen through a dual-stack socket) becomes
 * `1.2.3.4`; IPv6 is lower-cased; brackets, ports (`1.2.3.4:5678`, `[::1]:80`) and an IPv6 zone
 * (`fe80::1%eth0`) are dropped. Returns '' when the text is not an IP address.
 */
export function normalizeIp(raw: string | undefined): string {
  if (!raw) return '';
  let s = raw.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return '';
    s = s.slice(1, end);
  } else if (s.indexOf(':') > 0 && s.indexOf(':') === s.lastIndexOf(':') && s.includes('.')) {
    s = s.slice(0, s.indexOf(':')); // 1.2.3.4:5678
  }
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  s = s.toLowerCase();
  if (s.startsWith('::ffff:') && isIP(s.slice(7)) === 4) s = s.slice(7);
  return isIP(s) ? s : '';
}

export function isTrustedProxy(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return trustedProxies().check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The client address for rate limiting and logs.
 * @param socketAddress `req.socket.remoteAddress` (undefined once the socket is gone)
 * @param xff the `X-Forwarded-For` header as Node delivers it (duplicates joined by ", ")
 * @param trustProxy `server.trustProxy`
 */
export function clientIp(
  socketAddress: string | undefined,
  xff: string | string[] | undefined,
  trustProxy: boolean,
): string {
  const peer = normalizeIp(socketAddress);
  if (!trustProxy || !xff || !isTrustedProxy(peer)) return peer;
  const header = typeof xff === 'string' ? xff : xff.join(',');
  let answer = peer;
  let end = header.length;
  // Right to left without splitting into an array: this runs on every request.
  while (end > 0) {
    const comma = header.lastIndexOf(',', end - 1);
    const text = header.slice(comma + 1, end);
    end = comma < 0 ? 0 : comma;
    if (text.trim() === '') continue; // "a, , b" or a trailing comma
    const hop = normalizeIp(text);
    if (!hop) return answer;
    answer = hop;
    if (!isTrustedProxy(hop)) return hop;
  }
  return answer;
}
