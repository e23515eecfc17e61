/**
 * The single executable on its own (spec §8): copied ALONE into an empty directory and run with
 * an empty environment (HOME and a PATH with no node; no node_modules anywhere above it):
 * --version, gen-cert, init, check, serve with a self-signed pair it generates, and serve relaying to a fake upstream whose PNG reaches the
 * client as a JPEG (sharp + libvips unpacked from the binary). Slow (a ~100 MB build), so it runs
 * only with AI_RELAY_BINARY_TEST=1 (set by .ci/run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { BINARY, ROOT, ensureBinary } from './build.js';

const ENABLED = process.env.AI_RELAY_BINARY_TEST === '1';
if (!ENABLED) console.log('test/binary skipped: set AI_RELAY_BINARY_TEST=1 to build dist/ai-relay-linux-x64 and run it (~15 s build, ~100 MB)');

const TOKEN = 'binary-test-token-4f1d2c';
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

describe.skipIf(!ENABLED)('single executable, alone in an empty directory', () => {
  let work: string;
  let bin: string;
  let home: string;
  let env: Record<string, string>;
  let upstream: FakeUpstream;
  let png: Buffer;
  const figures: Record<string, string> = {};

  beforeAll(async () => {
    const build = ensureBinary(240_000);
    if (build.built) figures.build = `${build.seconds.toFixed(1)} s`;
    figures.size = `${(fs.statSync(BINARY).size / 1024 / 1024).toFixed(1)} MB`;

    work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-relay-bin-'));
    bin = path.join(work, 'app', 'ai-relay');
    home = path.join(work, 'home');
    const emptyPath = path.join(work, 'path');
    for (const d of [path.dirname(bin), home, emptyPath]) fs.mkdirSync(d);
    fs.copyFileSync(BINARY, bin);
    fs.chmodSync(bin, 0o755);
    // `env -i HOME=… PATH=<dir without node>`: nothing from this machine's Node install leaks in.
    env = { HOME: home, PATH: emptyPath };

    // 50 %-alpha red: flattened on white it must come back as (255, 127, 127)-ish.
    png = await sharp({ create: { width: 64, height: 48, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
    upstream = await startUpstream((_req, res) => {
      // A generic content type on purpose: the transform sniffs PNG magic bytes.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': png.length });
      res.end(png);
    });
  }, 300_000);

  afterAll(async () => {
    await upstream?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
    if (Object.keys(figures).length) console.log(`binary figures: ${JSON.stringify(figures)}`);
  });

  it('the environment really has no node and no node_modules', () => {
    const r = spawnSync('/bin/sh', ['-c', 'command -v node'], { env, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    for (let d = path.dirname(bin); ; d = path.dirname(d)) {
      expect(fs.existsSync(path.join(d, 'node_modules'))).toBe(false);
      if (d === path.dirname(d)) break;
    }
    expect(fs.readdirSync(path.dirname(bin))).toEqual(['ai-relay']);
  });

  it('--version', async () => {
    const r = await run(['--version']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.trim()).toBe(VERSION);
    figures.versionMs = `${Math.round(r.ms)} ms`;
  });

  it('gen-cert writes cert.pem and a 0600 key.pem', async () => {
    const r = await run(['gen-cert', '--out', 'certs', '--host', 'localhost', '--host', '127.0.0.1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/([0-9A-F]{2}:){31}[0-9A-F]{2}/);
    const dir = path.join(path.dirname(bin), 'certs');
    expect(fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(fs.statSync(path.join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
  });

  it('init writes the starter files, refuses to overwrite, and check accepts them', async () => {
    const r = await run(['init', '--preset', 'all']);
    expect(r.code, r.stderr).toBe(0);
    const dir = path.dirname(bin);
    expect(fs.readFileSync(path.join(dir, 'proxy.config.yaml'), 'utf8')).toContain('oauth:');

    const again = await run(['init', '--preset', 'openai']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('refusing to overwrite');

    fs.copyFileSync(path.join(dir, '.env.example'), path.join(dir, '.env'));
    const check = await run(['check']);
    expect(check.code, check.stderr).toBe(0);
    for (const route of ['/openai', '/gemini', '/gigachat', '/fusionbrain']) expect(check.stdout).toContain(route);
  });

  it('check exits 1 with FILE:LINE:COL for a broken config', async () => {
    fs.writeFileSync(path.join(path.dirname(bin), 'broken.yaml'), 'routes:\n  - prefix: /x\n    upstrem: http://127.0.0.1:1\n    auth: none\n');
    const r = await run(['check', '--config', 'broken.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.yaml:3:\d+/);
  });

  it('serve over HTTPS relays to the upstream and converts its PNG to JPEG; SIGTERM exits 0', async () => {
    const port = await freePort();
    const config = path.join(path.dirname(bin), 'relay.yaml');
    fs.writeFileSync(config, relayYaml(port, upstream.url));
    fs.writeFileSync(path.join(path.dirname(bin), 'tag.mjs'), TAG_PLUGIN);
    const ca = fs.readFileSync(path.join(path.dirname(bin), 'certs', 'cert.pem'));

    const t0 = performance.now();
    const child = spawn(bin, ['serve', '--config', 'relay.yaml'], { cwd: path.dirname(bin), env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collect(child);
    try {
      await waitFor(async () => (await get(`https://127.0.0.1:${port}/health`, ca)).status === 200, 15_000, out);
      figures.coldStartToHealth = `${Math.round(performance.now() - t0)} ms`;

      const before = upstream.requests.length;
      const res = await get(`https://127.0.0.1:${port}/img/picture.png`, ca, { authorization: `Bearer ${TOKEN}` });
      expect(res.status, res.body.toString()).toBe(200);
      expect(res.headers['content-type']).toBe('image/jpeg');
      expect(res.body.subarray(0, 3).toString('hex')).toBe('ffd8ff');
      expect(Number(res.headers['content-length'])).toBe(res.body.length);
      const { data, info } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([64, 48, 3]);
      expect(data[0]).toBeGreaterThan(240);
      expect(Math.abs(data[1]! - 127)).toBeLessThan(8);
      expect(Math.abs(data[2]! - 127)).toBeLessThan(8);

      // The upstream saw the request, without the relay token.
      expect(upstream.requests.length).toBe(before + 1);
      const seen = upstream.requests.at(-1)!;
      expect(seen.url).toBe('/picture.png');
      expect(JSON.stringify(seen.headers)).not.toContain(TOKEN);

      // sharp's addon and libvips were unpacked into the (empty) HOME's cache dir.
      const cache = path.join(home, '.cache', 'ai-relay');
      const native = fs.readdirSync(cache).find((d) => d.startsWith('native-'));
      expect(native).toBeDefined();
      expect(fs.readdirSync(path.join(cache, native!, '@img')).sort()).toEqual(['sharp-libvips-linux-x64', 'sharp-linux-x64']);

      // Plugin modules load inside the binary too.
      const plug = await get(`https://127.0.0.1:${port}/plug/x`, ca, { authorization: `Bearer ${TOKEN}` });
      expect([plug.status, plug.body.toString()]).toEqual([200, `plugin saw ${png.length} bytes`]);

      expect(out.text()).not.toContain(TOKEN);
    } finally {
      child.kill('SIGTERM');
    }
    const code = await exited(child, 10_000);
    expect(code, out.text()).toBe(0);
  });

  it('serve with tls.selfSigned generates the missing pair and answers /health over HTTPS', async () => {
    const port = await freePort();
    const dir = path.dirname(bin);
    fs.writeFileSync(path.join(dir, 'self.yaml'), relayYaml(port, upstream.url).replace('certs/cert.pem', 'self/cert.pem').replace('certs/key.pem', 'self/key.pem\n    selfSigned: true'));
    const child = spawn(bin, ['serve', '--config', 'self.yaml'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collect(child);
    try {
      await waitFor(() => fs.existsSync(path.join(dir, 'self', 'cert.pem')), 15_000, out);
      const ca = fs.readFileSync(path.join(dir, 'self', 'cert.pem'));
      await waitFor(async () => (await get(`https://127.0.0.1:${port}/health`, ca)).status === 200, 15_000, out);
      expect(fs.statSync(path.join(dir, 'self', 'key.pem')).mode & 0o777).toBe(0o600);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child, 10_000), out.text()).toBe(0);
  });

  it('serve --workers 2: cluster workers start from the binary (argv differs in a SEA) and drain on SIGTERM', async () => {
    const port = await freePort();
    fs.writeFileSync(path.join(path.dirname(bin), 'workers.yaml'), relayYaml(port, upstream.url).replace(/  tls:\n(    .*\n){2}/, ''));
    const child = spawn(bin, ['serve', '--config', 'workers.yaml', '--workers', '2'], { cwd: path.dirname(bin), env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collect(child);
    try {
      await waitFor(() => (out.stdout().match(/"msg":"ai-relay listening/g) ?? []).length === 2, 20_000, out);
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      expect(out.stdout()).toMatch(/"worker":1,/);
      expect(out.stdout()).toMatch(/"worker":2,/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child, 15_000), out.text()).toBe(0);
  });

  it('a noexec cache dir is named, with AI_RELAY_CACHE_DIR as the fix', async (ctx) => {
    const nx = path.join(work, 'noexec');
    fs.mkdirSync(nx);
    if (process.getuid?.() !== 0 || spawnSync('mount', ['-t', 'tmpfs', '-o', 'noexec,size=64m', 'tmpfs', nx]).status !== 0) {
      ctx.skip(); // needs root to mount a noexec tmpfs
      return;
    }
    try {
      const port = await freePort();
      fs.writeFileSync(path.join(path.dirname(bin), 'nx.yaml'), relayYaml(port, upstream.url));
      const child = spawn(bin, ['serve', '--config', 'nx.yaml'], {
        cwd: path.dirname(bin),
        env: { ...env, AI_RELAY_CACHE_DIR: path.join(nx, 'cache') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out = collect(child);
      // Whether the relay refuses to start or starts with image transforms off, it must say why.
      await waitFor(async () => /AI_RELAY_CACHE_DIR/.test(out.text()) || child.exitCode !== null, 15_000, out);
      child.kill('SIGTERM');
      await exited(child, 10_000);
      expect(out.text()).toContain('AI_RELAY_CACHE_DIR');
      expect(out.text()).toContain('noexec');
    } finally {
      spawnSync('umount', [nx]);
    }
  });

  function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const child = spawn(bin, args, { cwd: path.dirname(bin), env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = collect(child);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: out.stdout(), stderr: out.stderr(), ms: performance.now() - t0 });
      });
    });
  }
});

function relayYaml(port: number, upstreamUrl: string): string {
  return `server:
  host: 127.0.0.1
  port: ${port}
  tls:
    cert: certs/cert.pem
    key: certs/key.pem
log:
  format: json
clients:
  web: ${TOKEN}
egress:
  proxy: none
routes:
  - name: img
    prefix: /img
    upstream: ${upstreamUrl}
    auth: [web]
    transforms:
      - png-to-jpeg: {}
  - name: plug
    prefix: /plug
    upstream: ${upstreamUrl}
    auth: [web]
    transforms:
      - module: ./tag.mjs
`;
}

/** A plugin transform, loaded by the binary with import() from next to the config. */
const TAG_PLUGIN = `export default {
  name: 'tag',
  match: () => true,
  transform: (body) => ({ body: Buffer.from('plugin saw ' + body.length + ' bytes'), headers: { 'content-type': 'text/plain' } }),
};
`;

function collect(child: ChildProcess) {
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => o.push(c));
  child.stderr!.on('data', (c: Buffer) => e.push(c));
  const stdout = () => Buffer.concat(o).toString();
  const stderr = () => Buffer.concat(e).toString();
  return { stdout, stderr, text: () => stdout() + stderr() };
}

function get(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitFor(cond: () => Promise<boolean> | boolean, ms: number, out: { text(): string }): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms; process output:\n${out.text()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
