/**
 * Cold start (docs/benchmarks.md): `serve` loads only what its config needs. The shipped CLI,
 * bin/ai-relay.js after `npm run build`, runs with a preload (record-modules.mjs) that lists every
 * file it loads; the assertions are on that list, never on timings.
 *
 *  - a plain config loads no file from node_modules at all, and the route still proxies (the
 *    bundle's trimmed undici);
 *  - which npm packages a command used is read from the bundle's own chunk → packages map
 *    (dist/bundle/packages.json, written by the build from esbuild's metafile): ioredis, socks,
 *    @peculiar/x509, prom-client and sharp stay unloaded until a config or request needs them.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForHealth, type CliProcess } from '../helpers/cli.js';
import { tinyPng } from '../helpers/png.js';
import { freePort } from '../helpers/redis.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RECORDER = path.join(ROOT, 'test/startup/record-modules.mjs');
const BUNDLE_DIR = path.join(ROOT, 'dist', 'bundle');
const BIN = path.join(ROOT, 'bin', 'ai-relay.js');
const LAZY = ['ioredis', 'socks', '@peculiar/x509', 'reflect-metadata', 'prom-client', 'sharp'];


/** npm package names among the loaded files (file:// URLs and paths), e.g. "@img/sharp-linux-x64". */
function packagesIn(log: string): Set<string> {
  const names = new Set<string>();
  for (const line of log.split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (m && m[1] !== '.cache') names.add(m[1]!);
  }
  return names;
}

/** Every npm package the process used: bundled ones (by the chunks loaded) and ones from node_modules. */
function loadedPackages(log: string): Set<string> {
  return new Set([...bundledPackagesIn(log), ...packagesIn(log)]);
}

/** npm packages bundled inside the bundle files that were loaded (dist/bundle/packages.json). */
function bundledPackagesIn(log: string): Set<string> {
  const map = JSON.parse(readFileSync(path.join(BUNDLE_DIR, 'packages.json'), 'utf8')) as Record<string, string[]>;
  const names = new Set<string>();
  for (const line of log.split('\n')) {
    const file = line.replace(/^file:\/\//, '');
    if (!file.startsWith(BUNDLE_DIR + path.sep)) continue;
    for (const p of map[path.relative(BUNDLE_DIR, file)] ?? []) names.add(p);
  }
  return names;
}


describe('cold start: serve loads only what the config needs', () => {
  let dir: string;
  let up: FakeUpstream;
  const env = { NODE_OPTIONS: `--import=${RECORDER}` };

  const config = (extra = '') =>
    [
      'server:',
      '  host: 127.0.0.1',
      extra,
      'log:',
      '  level: warn',
      '  format: json',
      'routes:',
      '  - name: api',
      '    prefix: /api',
      `    upstream: ${up.url}`,
      '    auth: none',
      '    headers:',
      '      set:',
      '        Authorization: Bearer sk-startup-test',
      '',
    ].join('\n');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ai-relay-startup-'));
    up = await startUpstream((req, res, rec) => {
      if (req.url?.endsWith('.png')) {
        res.writeHead(200, { 'content-type': 'image/png' });
        res.end(tinyPng());
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, method: req.method, url: req.url, bodyLength: rec.body.length }));
    });
    expect(existsSync(path.join(BUNDLE_DIR, 'packages.json')), 'npm run build writes dist/bundle/packages.json').toBe(true);
  });

  afterAll(async () => {
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the bundle: a plain config loads nothing from node_modules and still proxies', async () => {
    const log = path.join(dir, 'bundle.modules');
    const port = await freePort();
    const file = path.join(dir, 'plain.yaml');
    writeFileSync(file, config());
    const cli = await spawnEntry(BIN, ['serve', '--config', file, '--port', String(port)], { ...env, AI_RELAY_MODULE_LOG: log });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForHealth(url, cli);
      const r = await fetch(`${url}/api/v1/models?x=1`, { method: 'POST', body: 'hello' });
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ ok: true, method: 'POST', url: '/v1/models?x=1', bodyLength: 5 });
      const seen = up.requests.at(-1)!;
      expect(seen.headers.authorization).toBe('Bearer sk-startup-test');
      expect(seen.body.toString()).toBe('hello');
    } finally {
      cli.child.kill('SIGTERM');
      expect((await cli.exited).code).toBe(0);
    }
    const loaded = readFileSync(log, 'utf8');
    expect(loaded).toContain(path.join(BUNDLE_DIR, 'cli.mjs'));
    expect([...packagesIn(loaded)]).toEqual([]);
  }, 30_000);

  it('the bundle with an image route: sharp\'s JS comes from the bundle, only its native addon from node_modules', async () => {
    const log = path.join(dir, 'image.modules');
    const port = await freePort();
    const file = path.join(dir, 'image.yaml');
    writeFileSync(file, config() + ['    transforms:', '      - png-to-jpeg:', '          quality: 80', ''].join('\n'));
    const cli = await spawnEntry(BIN, ['serve', '--config', file, '--port', String(port)], { ...env, AI_RELAY_MODULE_LOG: log });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForHealth(url, cli);
      const r = await fetch(`${url}/api/image.png`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/jpeg');
      const jpeg = Buffer.from(await r.arrayBuffer());
      expect(jpeg.subarray(0, 3).toString('hex')).toBe('ffd8ff');
    } finally {
      cli.child.kill('SIGTERM');
      expect((await cli.exited).code).toBe(0);
    }
    const loaded = packagesIn(readFileSync(log, 'utf8'));
    expect(loaded).toContain('@img/sharp-linux-x64');
    expect(loaded).not.toContain('sharp');
    expect(loaded).not.toContain('semver');
  }, 30_000);

  it('no ioredis, socks, x509, prom-client or sharp until needed; /metrics loads prom-client', async () => {
    const log = path.join(dir, 'sources.modules');
    const port = await freePort();
    const file = path.join(dir, 'metrics.yaml');
    writeFileSync(file, config('  metricsPath: /metrics'));
    const cli = await spawnEntry(BIN, ['serve', '--config', file, '--port', String(port)], { ...env, AI_RELAY_MODULE_LOG: log });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForHealth(url, cli);
      expect((await fetch(`${url}/api/ping`)).status).toBe(200);
      const before = loadedPackages(readFileSync(log, 'utf8'));
      // The recorder works: the relay's own packages are there.
      for (const p of ['zod', 'yaml', 'undici', 'pino', 'commander']) expect(before).toContain(p);
      for (const p of LAZY) expect(before).not.toContain(p);

      const m = await fetch(`${url}/metrics`);
      expect(m.status).toBe(200);
      expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await m.text();
      // Counted before prom-client was loaded.
      expect(text).toMatch(/ai_relay_requests_total\{route="api",status_class="2xx",client="-"\} 1/);
      expect(text).toMatch(/ai_relay_config_reloads_total\{result="ok"\} 0/);
      expect(text).toMatch(/ai_relay_exchanges_in_flight \d/);
      expect(loadedPackages(readFileSync(log, 'utf8'))).toContain('prom-client');
    } finally {
      cli.child.kill('SIGTERM');
      expect((await cli.exited).code).toBe(0);
    }
    const after = loadedPackages(readFileSync(log, 'utf8'));
    for (const p of LAZY.filter((n) => n !== 'prom-client')) expect(after).not.toContain(p);
  }, 30_000);

  it('--version loads neither the config code nor the relay', async () => {
    const log = path.join(dir, 'version.modules');
    const cli = await spawnEntry(BIN, ['--version'], { ...env, AI_RELAY_MODULE_LOG: log });
    const r = await cli.exited;
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const loaded = loadedPackages(readFileSync(log, 'utf8'));
    expect(loaded).toContain('commander');
    for (const p of ['zod', 'yaml', 'undici', 'pino', ...LAZY]) expect(loaded).not.toContain(p);
  });

  it('bin/ai-relay.js prints the version', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'bin/ai-relay.js'), '--version'], { timeout: 10_000 });
    expect(stdout.trim()).toBe((JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });
});


/** Like the helper's startCli, for another entry file. */
async function spawnEntry(entry: string, args: string[], env: Record<string, string>): Promise<CliProcess> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [entry, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: () => Promise.reject(new Error('not used')),
  };
}
