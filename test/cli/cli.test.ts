/**
 * The CLI as a user runs it (spec §2): bin/ai-relay.js as built by `npm run build`, in a child process.
 * Exit codes 0/1/2, `check` listing every problem as FILE:LINE:COL, `serve` honouring flags,
 * `.env` with real env winning, and SIGTERM → drain → exit 0.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/redis.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';


describe('ai-relay CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ai-relay-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--version prints the package version and exits 0', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('--help lists the commands and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['serve', 'check', 'gen-cert', 'init']) expect(r.stdout).toContain(c);
  });

  it('an unknown command exits 2', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
  });

  it('an unknown option exits 2', async () => {
    const r = await runCli(['check', '--no-such-flag']);
    expect(r.code).toBe(2);
  });

  it('check on a config with three mistakes prints all three as FILE:LINE:COL and exits 1', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'server:',
        '  prot: 8080', // unknown key, did you mean port
        'routes:',
        '  - name: a',
        '    prefix: /a',
        '    upstream: not-a-url', // not a URL
        '    auth: none',
        '  - name: b',
        '    prefix: /b',
        '    upstream: http://127.0.0.1:1', // no auth
        '',
      ].join('\n'),
    );
    const r = await runCli(['check', '--config', 'bad.yaml'], { cwd: dir });
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('bad.yaml:'));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('bad.yaml:2:3 unknown key "prot" in server (did you mean "port"?)');
    expect(lines[1]).toMatch(/^bad\.yaml:6:15 routes\.0\.upstream: must be an http/);
    expect(lines[2]).toMatch(/^bad\.yaml:8:5 routes\.1\.auth: .*required/);
  });

  it('check on a valid config exits 0 and prints the route table, marking an open route', async () => {
    writeFileSync(
      path.join(dir, 'good.yaml'),
      ['clients:', '  web: ${PROXY_TOKEN}', 'routes:', '  - name: open-one', '    prefix: /open', '    upstream: http://127.0.0.1:1', '    auth: none', '  - name: closed-one', '    prefix: /closed', '    upstream: http://127.0.0.1:2', '    auth: [web]', ''].join('\n'),
    );
    const r = await runCli(['check', '--config', 'good.yaml'], { cwd: dir, env: { PROXY_TOKEN: 'x-token-1' } });
    expect(r.code).toBe(0);
    const open = r.stdout.split('\n').find((l) => l.startsWith('open-one'));
    const closed = r.stdout.split('\n').find((l) => l.startsWith('closed-one'));
    expect(open).toMatch(/\/open\s+http:\/\/127\.0\.0\.1:1\s+OPEN/);
    expect(closed).toMatch(/\bweb\b/);
    expect(closed).not.toMatch(/OPEN/);
    expect(r.stdout).toContain('good.yaml: OK');
    expect(r.stdout + r.stderr).not.toContain('x-token-1');
  });

  describe('serve', () => {
    let up: FakeUpstream;
    beforeAll(async () => {
      up = await startUpstream();
    });
    afterAll(async () => {
      await up?.close();
    });

    it('honours --port, loads .env (real env wins), and exits 0 on SIGTERM', async () => {
      const port = await freePort();
      writeFileSync(
        path.join(dir, 'serve.yaml'),
        [
          'server:',
          '  host: 127.0.0.1',
          '  port: 1', // --port must win
          'clients:',
          '  web: ${PROXY_TOKEN}',
          'routes:',
          '  - name: api',
          '    prefix: /api',
          `    upstream: ${up.url}`,
          '    auth: [web]',
          '    headers:',
          '      set:',
          '        X-From: ${WHO}',
          '',
        ].join('\n'),
      );
      writeFileSync(path.join(dir, '.env'), 'PROXY_TOKEN=token-from-dotenv\nWHO=dotenv\n');
      const p = await startCli(['serve', '--config', 'serve.yaml', '--port', String(port)], { cwd: dir, env: { WHO: 'real-env' } });
      try {
        await p.waitFor(new RegExp(`127\\.0\\.0\\.1:${port}`), 8000);
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        expect(health.status).toBe(200);
        const r = await fetch(`http://127.0.0.1:${port}/api/x`, { headers: { 'x-proxy-token': 'token-from-dotenv' } });
        expect(r.status).toBe(200); // the token came from .env
        expect(up.requests.at(-1)!.headers['x-from']).toBe('real-env'); // the real env beat .env
        p.child.kill('SIGTERM');
        const res = await Promise.race([p.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no exit 5s after SIGTERM')), 5000))]);
        expect(res.code).toBe(0);
        expect(res.signal).toBeNull();
        await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
      } finally {
        if (p.child.exitCode === null) p.child.kill('SIGKILL');
      }
    });

    it('serve with an invalid config exits 1 with the problem listed', async () => {
      writeFileSync(path.join(dir, 'broken.yaml'), 'routes:\n  - prefix: /a\n    upstream: http://127.0.0.1:1\n    auth: none\n    bogus: 1\n');
      const r = await runCli(['serve', '--config', 'broken.yaml', '--port', '0'], { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^broken\.yaml:5:5 unknown key "bogus"/m);
    });

    it('--port out of range is bad usage: exit 2', async () => {
      const r = await runCli(['serve', '--config', 'serve.yaml', '--port', '99999'], { cwd: dir });
      expect(r.code).toBe(2);
    });
  });
});
