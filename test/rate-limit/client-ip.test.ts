import { describe, expect, it } from 'vitest';
import { clientIp, isTrustedProxy, normalizeIp } from '../../src/net/client-ip.js';
import { ipBucket, rateLimitKey } from '../../src/policy/rate-limit-key.js';

describe('normalizeIp', () => {
  it.each([
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:10.0.0.1', '10.0.0.1'],
    ['1.2.3.4:5678', '1.2.3.4'],
    ['[2001:DB8::1]:443', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    [' 203.0.113.9 ', '203.0.113.9'],
    ['unknown', ''],
    ['1.2.3.4.5', ''],
    ['', ''],
  ])('%s → %s', (raw, want) => expect(normalizeIp(raw)).toBe(want));
});

describe('trusted proxies are loopback/private/link-local only', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.1.1', true],
    ['::1', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['8.8.8.8', false],
    ['2001:db8::1', false],
    ['100.64.0.1', false],
  ])('%s → %s', (ip, want) => expect(isTrustedProxy(ip)).toBe(want));
});

describe('clientIp', () => {
  it('without trustProxy: the socket address, whatever X-Forwarded-For says', () => {
    expect(clientIp('::ffff:198.51.100.7', '1.2.3.4', false)).toBe('198.51.100.7');
    expect(clientIp('127.0.0.1', '1.2.3.4, 10.0.0.2', false)).toBe('127.0.0.1');
  });

  it('with trustProxy: the right-most address that is not a trusted proxy', () => {
    // Client forged "1.1.1.1", nginx appended the real 203.0.113.5, an LB appended 10.0.0.2.
    expect(clientIp('127.0.0.1', '1.1.1.1, 203.0.113.5, 10.0.0.2', true)).toBe('203.0.113.5');
    expect(clientIp('::ffff:10.0.0.9', '203.0.113.5', true)).toBe('203.0.113.5');
    expect(clientIp('::1', ['1.1.1.1', '2001:db8::7'], true)).toBe('2001:db8::7');
  });

  it('a peer that is not a trusted proxy is the client even with trustProxy', () => {
    // Someone reaching the relay directly cannot pick a bucket by sending X-Forwarded-For.
    expect(clientIp('198.51.100.7', '1.2.3.4', true)).toBe('198.51.100.7');
  });

  it('no header, all-private chains, garbage and empty entries', () => {
    expect(clientIp('127.0.0.1', undefined, true)).toBe('127.0.0.1');
    expect(clientIp('127.0.0.1', '192.168.0.5, 10.0.0.2', true)).toBe('192.168.0.5');
    expect(clientIp('127.0.0.1', 'evil-bucket-name, 10.0.0.2', true)).toBe('10.0.0.2');
    expect(clientIp('127.0.0.1', '203.0.113.5, ,', true)).toBe('203.0.113.5');
    expect(clientIp('127.0.0.1', '203.0.113.5:4711', true)).toBe('203.0.113.5');
    expect(clientIp(undefined, '1.2.3.4', true)).toBe('');
  });
});

describe('rateLimitKey (by: client | ip)', () => {
  it('by client uses the client name, falling back to the IP on open routes', () => {
    expect(rateLimitKey('client', 'web', '1.2.3.4')).toBe('c:web');
    expect(rateLimitKey('client', undefined, '1.2.3.4')).toBe('ip:1.2.3.4');
    expect(rateLimitKey('ip', 'web', '1.2.3.4')).toBe('ip:1.2.3.4');
  });

  it('by ip derives from clientIp: X-Forwarded-For only counts behind a trusted proxy', () => {
    const key = (trust: boolean) => rateLimitKey('ip', undefined, clientIp('127.0.0.1', '203.0.113.5', trust));
    expect(key(false)).toBe('ip:127.0.0.1');
    expect(key(true)).toBe('ip:203.0.113.5');
  });

  it('IPv6 clients are bucketed by /64 so address rotation does not escape the limit', () => {
    expect(ipBucket('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(ipBucket('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(ipBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipBucket('::1')).toBe('0:0:0:0::/64');
    expect(ipBucket('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64');
    expect(ipBucket('203.0.113.5')).toBe('203.0.113.5');
  });
});
