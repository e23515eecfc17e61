/**
 * Config loading (spec §3, issue 2 point 3): interpolation with defaults and escapes, units,
 * header-injection refusal with positions, did-you-mean, --strict, required auth, and messages
 * that say what is wrong (a wrong type is not "required").
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';

const load = (yaml: string, env: Record<string, string> = {}, strict = false) => parseConfigText(yaml, 'c.yaml', { env, strict });

function issuesOf(yaml: string, env: Record<string, string> = {}, strict = false): ConfigIssue[] {
  try {
    load(yaml, env, strict);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

const route = (extra = '') => `
routes:
  - name: r
    prefix: /r
    upstream: http://127.0.0.1:9
    auth: none
${extra}`;

describe('config loading', () => {
  it('${VAR:-default} uses the variable when set, the default otherwise', () => {
    const yaml = `server:\n  port: \${PORT:-8899}\n  host: \${HOST:-127.0.0.1}\n${route()}`;
    expect(load(yaml).config.server).toMatchObject({ port: 8899, host: '127.0.0.1' });
    expect(load(yaml, { PORT: '9001' }).config.server.port).toBe(9001);
  });

  it('$${X} escapes to a literal ${X} and is not a variable', () => {
    const l = load(route(`    headers:\n      set:\n        X-Template: "a $\${NOT_A_VAR} b"`));
    expect(l.config.routes[0]!.headers.set['X-Template']).toBe('a ${NOT_A_VAR} b');
    expect(l.missing).toEqual([]);
  });

  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['1500', 1500],
  ])('duration %s → %i ms', (v, ms) => {
    expect(load(route(`    firstByteTimeout: ${v}`)).config.routes[0]!.firstByteTimeout).toBe(ms);
  });

  it.each([
    ['512kb', 512 * 1024],
    ['50mb', 50 * 1024 * 1024],
    ['1gb', 1024 ** 3],
    ['100', 100],
  ])('size %s → %i bytes', (v, n) => {
    expect(load(`server:\n  limits:\n    maxBodySize: ${v}\n${route()}`).config.server.limits.maxBodySize).toBe(n);
  });

  it('a bad duration and a bad size are reported with line:col', () => {
    const issues = issuesOf(`server:\n  limits:\n    maxBodySize: lots\n${route('    idleTimeout: soon')}`);
    expect(issues).toEqual([
      expect.objectContaining({ line: 3, col: 18, message: expect.stringMatching(/maxBodySize: invalid size "lots"/) }),
      expect.objectContaining({ line: 10, message: expect.stringMatching(/idleTimeout: invalid duration "soon"/) }),
    ]);
  });

  it('CR/LF in a literal header value is refused at load with line:col', () => {
    const issues = issuesOf(route(`    headers:\n      set:\n        X-A: "ok\\r\\nX-Injected: 1"`));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'c.yaml', line: 9, col: 14 });
    expect(issues[0]!.message).toMatch(/CR, LF or NUL/);
  });

  it('CR/LF arriving through a variable is refused too, without echoing the value', () => {
    const issues = issuesOf(route(`    headers:\n      set:\n        Authorization: Bearer \${KEY}`), { KEY: 'sk-abc\r\nX-Injected: yes' });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 9, col: 24 });
    expect(JSON.stringify(issues)).not.toContain('sk-abc');
  });

  it('an unknown key is an error with a did-you-mean and its own position', () => {
    const issues = issuesOf(`server:\n  prot: 8080\n${route('    stripPrefx: false')}`);
    expect(issues).toEqual([
      expect.objectContaining({ line: 2, col: 3, message: 'unknown key "prot" in server (did you mean "port"?)' }),
      expect.objectContaining({ line: 9, col: 5, message: 'unknown key "stripPrefx" in routes.0 (did you mean "stripPrefix"?)' }),
    ]);
  });

  it('a missing variable disables its route (no error) but is an error with --strict', () => {
    const yaml = route(`    headers:\n      set:\n        X-Key: \${FB_KEY}`);
    const l = load(yaml);
    expect(l.missing).toEqual([{ name: 'FB_KEY', path: ['routes', 0, 'headers', 'set', 'X-Key'] }]);
    const issues = issuesOf(yaml, {}, true);
    expect(issues).toEqual([expect.objectContaining({ line: 9, col: 16, message: 'variable FB_KEY is not set (--strict)' })]);
  });

  it('a route without auth is an error that says auth is required', () => {
    const issues = issuesOf(`routes:\n  - name: r\n    prefix: /r\n    upstream: http://127.0.0.1:9\n`);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.line).toBe(2);
    expect(issues[0]!.message).toMatch(/routes\.0\.auth: .*required/);
  });

  it('a value of the wrong type says so instead of "is required"', () => {
    const issues = issuesOf(`server:\n  port: [1]\n  basePaths: "/r"\n${route('    retries: {x: 1}')}`);
    expect(issues).toHaveLength(3);
    for (const i of issues) expect(i.message).not.toMatch(/required/);
    expect(issues[0]!.message).toMatch(/^server\.port: .*number/);
    expect(issues[1]!.message).toMatch(/^server\.basePaths: .*array/);
  });

  it('every problem is reported, sorted by position', () => {
    const issues = issuesOf(`server:\n  prot: 1\nroutes:\n  - name: a\n    prefix: /a\n    upstream: nope\n    auth: none\n  - name: b\n    prefix: /b\n    upstream: http://x.example\n`);
    expect(issues.map((i) => [i.line, i.col])).toEqual([
      [2, 3],
      [6, 15],
      [8, 5],
    ]);
  });
});
