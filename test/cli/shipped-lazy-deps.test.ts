/**
 * Issue #15: every package the relay imports lazily works from what ships, not only from the
 * sources. In the npm bin's esbuild bundle a lazily imported CommonJS chunk exports only
 * `default`; reading named exports from it broke `gen-cert` (@peculiar/x509), the Redis stores
 * (ioredis) and SOCKS egress (socks), while the suite, which bundled with every package external,
 * stayed green. Each case here runs bin/ai-relay.js after the real `npm run build`, and the
 * gen-cert / selfSigned cases run the tsc output too (the fallback bin/ai-relay.js takes without
 * the bundle). The single executable is covered by test/binary/binary.test.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, startCli, tscEntry, type CliProcess, type CliResult } from '../helpers/cli.js';
import { checkRedis, freePort, startRedis, type TestRedis } from '../helpers/redis.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startSocksServer } from '../egress/servers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSC_MAIN = path.join(ROOT, 'dist', 'cli', 'bin.js');
const redis = checkRedis();


/** The artifacts npm users can end up running. */
const ARTIFACTS: { name: string; argv: (args: string[]) => string[] }[] = [
  { name: 'npm bin (bundle)', argv: (args) => [CLI_BIN, ...args] },
  { name: 'tsc output', argv: (args) => [tscEntry(), ...args] },
];

function run(argv: string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function stop(cli: CliProcess): Promise<void> {
  if (cli.child.exitCode !== null) return;
  cli.child.kill('SIGTERM');
  await cli.exited;
}

describe('what ships loads its lazy packages', () => {
  let dir: string;
  let up: FakeUpstream;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ai-relay-shipped-'));
    up = await startUpstream();
    expect(existsSync(TSC_MAIN), 'npm run build writes the tsc output').toBe(true);
  });
  afterAll(async () => {
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const a of ARTIFACTS) {
    it(`gen-cert (@peculiar/x509) from the ${a.name}`, async () => {
      const cwd = mkdtempSync(path.join(dir, 'gen-'));
      const r = await run(a.argv(['gen-cert', '--out', 'certs', '--host', 'relay.test', '--host', '127.0.0.1']), cwd);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/SHA-256 fingerprint:\s+([0-9A-F]{2}:){31}[0-9A-F]{2}/);
      expect(readFileSync(path.join(cwd, 'certs/cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(statSync(path.join(cwd, 'certs/key.pem')).mode & 0o777).toBe(0o600);
    });

    it(`serve with tls.selfSigned and missing files answers /health over HTTPS (${a.name})`, async () => {
      const cwd = mkdtempSync(path.join(dir, 'self-'));
      const port = await freePort();
      const yaml = ['server:', '  host: 127.0.0.1', `  port: ${port}`, '  tls:', '    cert: certs/cert.pem', '    key: certs/key.pem', '    selfSigned: true', 'log:', '  format: json', 'routes: []', ''].join('\n');
      writeFileSync(path.join(cwd, 'relay.yaml'), yaml);
      const child = spawn(process.execPath, a.argv(['serve', '--config', 'relay.yaml']), { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (out += c));
      try {
        const end = Date.now() + 15_000;
        let res: { status: number; body: string } | undefined;
        while (!res) {
          if (child.exitCode !== null || Date.now() > end) throw new Error(`serve never answered /health over HTTPS:\n${out}`);
          if (existsSync(path.join(cwd, 'certs/cert.pem'))) {
            res = await httpsGet(`https://127.0.0.1:${port}/health`, readFileSync(path.join(cwd, 'certs/cert.pem'))).catch(() => undefined);
          }
          if (!res) await new Promise((r) => setTimeout(r, 50));
        }
        expect(res.status).toBe(200);
        expect(JSON.parse(res.body)).toMatchObject({ status: 'ok' });
        expect(statSync(path.join(cwd, 'certs/key.pem')).mode & 0o777).toBe(0o600);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('close', r));
      }
    });
  }

  it('a SOCKS5 egress (socks) relays through the proxy', async () => {
    const proxy = await startSocksServer();
    const port = await freePort();
    const file = path.join(dir, 'socks.yaml');
    writeFileSync(file, ['server:', '  host: 127.0.0.1', 'log:', '  format: json', 'routes:', '  - prefix: /api', `    upstream: ${up.url}`, '    auth: none', '    egress:', `      proxy: ${proxy.url}`, ''].join('\n'));
    const cli = await startCli(['serve', '--config', file, '--port', String(port)]);
    try {
      await cli.waitFor(/listening|"msg":"ready/i, 10_000);
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/models`);
      expect(r.status, await r.clone().text()).toBe(200);
      expect(proxy.destinations.length).toBeGreaterThan(0);
      expect(up.requests.at(-1)?.url).toBe('/v1/models');
    } finally {
      await stop(cli);
      await proxy.close();
    }
  });

  describe.skipIf(!redis.available && !redis.mustFail)('Redis (ioredis)', () => {
    let server: TestRedis;
    beforeAll(async () => {
      server = await startRedis();
    });
    afterAll(async () => server?.close());

    it('a Redis rate-limit store counts across requests', async () => {
      const port = await freePort();
      const file = path.join(dir, 'redis.yaml');
      writeFileSync(
        file,
        ['server:', '  host: 127.0.0.1', 'log:', '  format: json', 'routes:', '  - prefix: /api', `    upstream: ${up.url}`, '    auth: none', '    rateLimit:', '      requests: 2', '      per: 1m', '      by: ip', `      store: ${server.url}`, ''].join('\n'),
      );
      const cli = await startCli(['serve', '--config', file, '--port', String(port)]);
      try {
        await cli.waitFor(/listening|"msg":"ready/i, 10_000);
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++) statuses.push((await fetch(`http://127.0.0.1:${port}/api/x`)).status);
        expect(statuses).toEqual([200, 200, 429]);
        expect(cli.stdout() + cli.stderr()).not.toMatch(/rate limiter failed|is not a constructor/);
      } finally {
        await stop(cli);
      }
    });
  });
});
