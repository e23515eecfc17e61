/** The forward proxy's policy pieces: Basic auth, the allow-list and the private-address test. */
import { describe, expect, it } from 'vitest';
import { checkProxyAuth } from '../../src/forward-proxy/auth.js';
import { compileAllow, parseAuthority } from '../../src/forward-proxy/allow.js';
import { isPrivateAddress } from '../../src/forward-proxy/private-net.js';
import { resolveTarget, TargetRefused } from '../../src/forward-proxy/dial.js';
import { stripHopByHop } from '../../src/forward-proxy/absolute.js';

const b64 = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;

describe('checkProxyAuth', () => {
  const users = { relay: 'p:a:ss', other: 'x' };
  it('accepts the right pair (password may hold colons) and names the user either way', () => {
    expect(checkProxyAuth(b64('relay:p:a:ss'), users)).toEqual({ ok: true, user: 'relay' });
    expect(checkProxyAuth(b64('relay:wrong'), users)).toEqual({ ok: false, user: 'relay' });
    expect(checkProxyAuth(b64('nobody:p:a:ss'), users)).toEqual({ ok: false, user: 'nobody' });
    expect(checkProxyAuth(undefined, users)).toEqual({ ok: false });
    expect(checkProxyAuth('Bearer abc', users)).toEqual({ ok: false });
    expect(checkProxyAuth(b64('nocolon'), users)).toEqual({ ok: false });
  });
  it('no users configured: everyone passes', () => {
    expect(checkProxyAuth(undefined, {})).toEqual({ ok: true, user: '-' });
  });
});

describe('allow-list', () => {
  const allow = compileAllow(['api.openai.com:443', '*.googleapis.com:443', 'bare.example', 'any.example:*', '[::1]:8080']);
  const cases: [string, boolean][] = [
    ['api.openai.com:443', true],
    ['API.OpenAI.com.:443', true],
    ['api.openai.com:80', false],
    ['generativelanguage.googleapis.com:443', true],
    ['a.b.googleapis.com:443', true],
    ['googleapis.com:443', false],
    ['evilgoogleapis.com:443', false],
    ['bare.example:443', true],
    ['bare.example:80', false],
    ['any.example:25', true],
    ['[::1]:8080', true],
    ['[::2]:8080', false],
  ];
  for (const [authority, want] of cases) {
    it(`${authority} → ${want}`, () => {
      const t = parseAuthority(authority);
      expect(t).toBeDefined();
      expect(allow(t!)).toBe(want);
    });
  }
  it('malformed CONNECT targets are rejected', () => {
    for (const bad of ['api.openai.com', 'api.openai.com:0', 'api.openai.com:99999', 'http://x:443', ':443', '[zz]:443', 'a b:443']) {
      expect(parseAuthority(bad), bad).toBeUndefined();
    }
  });
});

describe('isPrivateAddress', () => {
  const priv = [
    '127.0.0.1', '127.0.0.2', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '100.127.255.255', '0.0.0.0', '0.1.2.3', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fe80::1%eth0', 'fc00::1',
    'fd00:ec2::254', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '::ffff:10.0.0.1', '64:ff9b::10.0.0.1',
    '2002:a00:1::1', 'ff02::1',
  ];
  const pub = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '203.0.113.7', '2a00:1450:4001::200e', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8'];
  for (const ip of priv) it(`${ip} is private`, () => expect(isPrivateAddress(ip)).toBe(true));
  for (const ip of pub) it(`${ip} is public`, () => expect(isPrivateAddress(ip)).toBe(false));
});

describe('resolveTarget', () => {
  it('refuses when any answer is private, passes IP literals through without a lookup', async () => {
    const lookup = async () => ['8.8.8.8', '192.168.0.9'];
    await expect(resolveTarget('x.test', true, lookup)).rejects.toBeInstanceOf(TargetRefused);
    await expect(resolveTarget('x.test', false, lookup)).resolves.toEqual(['8.8.8.8', '192.168.0.9']);
    const never = async (): Promise<string[]> => {
      throw new Error('must not look up a literal');
    };
    await expect(resolveTarget('8.8.4.4', true, never)).resolves.toEqual(['8.8.4.4']);
    await expect(resolveTarget('::ffff:127.0.0.1', true, never)).rejects.toBeInstanceOf(TargetRefused);
  });
});

describe('stripHopByHop', () => {
  it('drops hop-by-hop headers, those named in Connection, and Proxy-Authorization', () => {
    expect(
      stripHopByHop({
        connection: 'x-a, Keep-Alive',
        'x-a': '1',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic x',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        'x-b': '2',
        accept: '*/*',
      }),
    ).toEqual({ 'x-b': '2', accept: '*/*' });
  });
});
