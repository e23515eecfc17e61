/**
 * Which addresses a forward proxy with `denyPrivateNetworks` must never dial: everything that
 * is not ordinary public unicast — loopback, RFC 1918, link-local (which holds the cloud metadata
 * service 169.254.169.254), CGNAT, unique-local, multicast, reserved — and the same addresses
 * wrapped in IPv6 (IPv4-mapped `::ffff:10.0.0.1`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`),
 * because a proxy that checks only the plain form is open to the wrapped one.
 */
import { isIP } from 'node:net';

const V4_BLOCKS: [number, number][] = [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
].map(([base, bits]) => [v4ToInt(base as string), bits as number]);

/** True when `ip` (an IPv4 or IPv6 literal) is not a public unicast address. */
export function isPrivateAddress(ip: string): boolean {
  const fam = isIP(ip);
  if (fam === 4) return isPrivateV4(v4ToInt(ip));
  if (fam === 6) return isPrivateV6(parseV6(ip));
  return true; // not an address at all: refuse
}

function isPrivateV4(n: number): boolean {
  return V4_BLOCKS.some(([base, bits]) => (bits === 0 ? true : (n >>> (32 - bits)) === (base >>> (32 - bits))));
}

function isPrivateV6(g: number[]): boolean {
  const [a, b, c, d, e, f, h1, h2] = g as [number, number, number, number, number, number, number, number];
  const embedded = ((h1 << 16) | h2) >>> 0;
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0) {
    if (f === 0xffff) return isPrivateV4(embedded); // ::ffff:a.b.c.d (IPv4-mapped)
    if (f === 0) return true; // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
  }
  if (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0) return isPrivateV4(embedded); // NAT64
  if (a === 0x2002) return isPrivateV4(((b << 16) | c) >>> 0); // 6to4
  if ((a & 0xfe00) === 0xfc00) return true; // fc00::/7 unique-local (incl. fd00:ec2::254 metadata)
  if ((a & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  if ((a & 0xffc0) === 0xfec0) return true; // fec0::/10 site-local (deprecated)
  if ((a & 0xff00) === 0xff00) return true; // multicast
  if (a === 0x2001 && b === 0x0db8) return true; // documentation
  return false;
}

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

/** Eight 16-bit groups; accepts `::` compression, a trailing dotted quad and a `%zone`. */
function parseV6(ip: string): number[] {
  let s = ip.toLowerCase();
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    // "::ffff:1.2.3.4" → "::ffff:102:304"
    const v4 = v4ToInt(last);
    s = `${s.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const parse = (part: string) => (part ? part.split(':').map((x) => parseInt(x, 16)) : []);
  const dbl = s.indexOf('::');
  if (dbl === -1) return parse(s);
  const head = parse(s.slice(0, dbl));
  const rest = parse(s.slice(dbl + 2));
  return [...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest];
}
