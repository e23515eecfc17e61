/** Proxy environment variables and NO_PROXY, as curl reads them. */
import { describe, expect, it } from 'vitest';
import { matchesNoProxy, resolveEnvProxy } from '../../src/upstream/no-proxy.js';
import { describeEgress, resolveEgressUrl } from '../../src/upstream/egress.js';
import { parseProxyUrl } from '../../src/upstream/egress-url.js';

describe('resolveEnvProxy', () => {
  it('https origins read https_proxy, http origins http_proxy; lowercase wins; all_proxy is the fallback', () => {
    const env = { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2', HTTP_PROXY: 'http://plain:3' };
    expect(resolveEnvProxy('https://api.openai.com', env)).toBe('http://lower:2');
    expect(resolveEnvProxy('http://api.openai.com', env)).toBe('http://plain:3');
    expect(resolveEnvProxy('https://x.example', { HTTPS_PROXY: 'http://upper:1', https_proxy: '' })).toBe('http://upper:1');
    expect(resolveEnvProxy('https://x.example', { ALL_PROXY: 'socks5h://s:1080' })).toBe('socks5h://s:1080');
    expect(resolveEnvProxy('https://x.example', {})).toBe('none');
    expect(resolveEnvProxy('https://x.example', { HTTP_PROXY: 'http://plain:3' })).toBe('none');
  });

  it('NO_PROXY (lowercase first) sends matching origins direct', () => {
    const env = { HTTPS_PROXY: 'http://p:3128', NO_PROXY: '.internal.example', no_proxy: 'openai.com' };
    expect(resolveEnvProxy('https://api.openai.com', env)).toBe('none');
    expect(resolveEnvProxy('https://svc.internal.example', env)).toBe('http://p:3128');
  });
});

describe('matchesNoProxy', () => {
  const cases: [string, number, string, boolean][] = [
    ['api.openai.com', 443, '*', true],
    ['api.openai.com', 443, 'openai.com', true],
    ['openai.com', 443, '.openai.com', true],
    ['api.openai.com', 443, '*.openai.com', true],
    ['notopenai.com', 443, 'openai.com', false],
    ['api.openai.com', 443, 'api.openai.com:443', true],
    ['api.openai.com', 443, 'api.openai.com:8443', false],
    ['API.OpenAI.com.', 443, 'api.openai.com', true],
    ['127.0.0.1', 80, 'localhost, 127.0.0.1', true],
    ['127.0.0.2', 80, '127.0.0.1', false],
    ['10.1.2.3', 80, '10.0.0.0/8', true],
    ['11.1.2.3', 80, '10.0.0.0/8', false],
    ['[::1]', 80, '::1', true],
    ['::1', 8080, '[::1]:8080', true],
    ['fd00::5', 443, 'fd00::/8', true],
    ['10.1.2.3', 80, 'example.com 10.1.2.3', true],
    ['example.com', 80, '', false],
    ['example.com', 80, ' , ,', false],
  ];
  for (const [host, port, list, want] of cases) {
    it(`${host}:${port} with NO_PROXY=${JSON.stringify(list)} → ${want}`, () => {
      expect(matchesNoProxy(host, port, list)).toBe(want);
    });
  }
});

describe('proxy URLs', () => {
  it('parses kinds, default ports and percent-decoded credentials', () => {
    expect(parseProxyUrl('http://u%40x:p%3Ass@egress.example:3128')).toEqual({
      kind: 'http', host: 'egress.example', port: 3128, username: 'u@x', password: 'p:ss', describe: 'http://egress.example:3128',
    });
    expect(parseProxyUrl('socks5h://[::1]').describe).toBe('socks5h://[::1]:1080');
    expect(parseProxyUrl('proxy.example:8080').describe).toBe('http://proxy.example:8080');
    expect(parseProxyUrl('https://p.example').port).toBe(443);
  });

  it('a bare word is a typo, not a proxy host', () => {
    expect(() => parseProxyUrl('direct')).toThrow(/use none, env or a proxy URL/);
  });

  it('refuses unknown schemes without echoing credentials', () => {
    expect(() => parseProxyUrl('ftp://u:topsecret@p.example:2121')).toThrow(/unsupported egress proxy scheme ftp:\/\/ in ftp:\/\/p\.example:2121/);
    try {
      parseProxyUrl('ftp://u:topsecret@p.example:2121');
    } catch (e) {
      expect((e as Error).message).not.toContain('topsecret');
      expect((e as { code?: string }).code).toBe('ERR_EGRESS_INVALID');
    }
  });

  it('resolveEgressUrl / describeEgress for the check table', () => {
    const env = { https_proxy: 'http://u:pw@p.example:3128', no_proxy: 'localhost' };
    expect(resolveEgressUrl('env', 'https://api.openai.com', env)).toBe('http://u:pw@p.example:3128');
    expect(resolveEgressUrl('env', 'https://localhost:8443', env)).toBe('none');
    expect(resolveEgressUrl('none', 'https://api.openai.com', env)).toBe('none');
    expect(resolveEgressUrl('socks5h://s:1080', 'https://api.openai.com', env)).toBe('socks5h://s:1080');
    expect(describeEgress('env', 'https://api.openai.com', env)).toBe('http://p.example:3128');
    expect(describeEgress('none', 'https://api.openai.com', env)).toBe('direct');
  });
});
