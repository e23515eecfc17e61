/**
 * The deployment kit in deploy/: the nginx config parses (Debian nginx) and actually streams SSE
 * unbuffered to a relay behind /r/; the systemd unit verifies cleanly; the Dockerfile has the
 * promised shape (no Docker engine runs on these machines, so it is never built here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPLOY = path.join(ROOT, 'deploy');
const IN_CI = process.env.CI === 'true';

function has(cmd: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const p = path.join(dir, cmd);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

const NGINX = has('nginx');
const SYSTEMD_ANALYZE = has('systemd-analyze');
if (!NGINX) {
  if (IN_CI) throw new Error('nginx is required in CI (apt-get install nginx)');
  console.log('test/deploy: nginx not installed, nginx checks skipped');
}
if (!SYSTEMD_ANALYZE) console.log('test/deploy: systemd-analyze not installed, unit verification skipped');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-relay-deploy-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** An http{} wrapper around deploy/nginx/ai-relay.conf that runs unprivileged from a temp prefix. */
function nginxWrapper(prefix: string, siteConf: string): string {
  fs.mkdirSync(prefix, { recursive: true });
  const wrapper = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(
    wrapper,
    `daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  include ${siteConf};
}
`,
  );
  return wrapper;
}

describe.skipIf(!NGINX)('nginx front for the /r/ case', () => {
  it('nginx -t accepts deploy/nginx/ai-relay.conf as shipped', () => {
    const prefix = path.join(tmp, 'nginx-t');
    const wrapper = nginxWrapper(prefix, path.join(DEPLOY, 'nginx', 'ai-relay.conf'));
    const r = spawnSync(NGINX!, ['-t', '-q', '-c', wrapper, '-p', `${prefix}/`, '-e', `${prefix}/error.log`], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status, r.stderr).toBe(0);
  });

  it('has the settings SSE needs', () => {
    const conf = fs.readFileSync(path.join(DEPLOY, 'nginx', 'ai-relay.conf'), 'utf8');
    for (const line of [
      /proxy_buffering off;/,
      /proxy_http_version 1\.1;/,
      /proxy_read_timeout \d+s;/,
      /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/,
      /proxy_set_header X-Forwarded-Proto \$scheme;/,
      /location \/r\/ \{/,
    ]) {
      expect(conf).toMatch(line);
    }
  });

  describe('running: browser → nginx /r/ → relay (basePaths ["/", "/r"]) → upstream', () => {
    let upstream: FakeUpstream;
    let relay: TestRelay;
    let nginx: ChildProcess;
    let port: number;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));

    beforeAll(async () => {
      // SSE upstream: event 1 now, event 2 only after the test saw event 1 through nginx.
      upstream = await startUpstream(async (req, res) => {
        if (req.url?.startsWith('/v1/stream')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: {"n":1}\n\n');
          await released;
          res.end('data: {"n":2}\n\ndata: [DONE]\n\n');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url, xff: req.headers['x-forwarded-for'] ?? null }));
      });
      relay = await startTestRelay(
        `server:
  basePaths: ["/", "/r"]
  trustProxy: true
clients:
  web: deploy-test-token
egress:
  proxy: none
routes:
  - name: api
    prefix: /api
    upstream: ${upstream.url}
    auth: [web]
`,
      );
      port = await freePort();
      const relayPort = new URL(relay.url).port;
      const site = fs
        .readFileSync(path.join(DEPLOY, 'nginx', 'ai-relay.conf'), 'utf8')
        .replace(/server 127\.0\.0\.1:8787;/, `server 127.0.0.1:${relayPort};`)
        .replace(/listen 80;/, `listen 127.0.0.1:${port};`)
        .replace(/listen \[::\]:80;/, '')
        .replace(/root \/var\/www\/example\.com;/, `root ${tmp};`);
      const prefix = path.join(tmp, 'nginx-run');
      fs.mkdirSync(prefix, { recursive: true });
      fs.writeFileSync(path.join(prefix, 'site.conf'), site);
      const wrapper = nginxWrapper(prefix, path.join(prefix, 'site.conf'));
      nginx = spawn(NGINX!, ['-c', wrapper, '-p', `${prefix}/`, '-e', `${prefix}/error.log`], { stdio: 'ignore' });
      await waitFor(async () => (await request(port, '/r/health')).status === 200, 10_000);
    });

    afterAll(async () => {
      release();
      nginx?.kill('SIGTERM');
      await relay?.close();
      await upstream?.close();
    });

    it('/r/... reaches the route with /r and the prefix stripped; nginx\'s X-Forwarded-* stop at the relay', async () => {
      const r = await request(port, '/r/api/v1/models', { authorization: 'Bearer deploy-test-token' });
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ url: '/v1/models', xff: null });
      const seen = upstream.requests.at(-1)!;
      expect(seen.headers.authorization).toBeUndefined();
      expect(Object.keys(seen.headers).filter((h) => h.startsWith('x-forwarded') || h === 'x-real-ip')).toEqual([]);
    });

    it('streams SSE through nginx chunk by chunk (event 1 arrives while the upstream holds event 2)', async () => {
      const got: string[] = [];
      const done = new Promise<number>((resolve, reject) => {
        const req = http.get(
          { host: '127.0.0.1', port, path: '/r/api/v1/stream', headers: { authorization: 'Bearer deploy-test-token', accept: 'text/event-stream' } },
          (res) => {
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              got.push(c);
              if (got.join('').includes('"n":1')) release();
            });
            res.on('end', () => resolve(res.statusCode!));
          },
        );
        req.setTimeout(10_000, () => req.destroy(new Error('SSE through nginx timed out: buffered?')));
        req.on('error', reject);
      });
      expect(await done).toBe(200);
      const all = got.join('');
      expect(all.indexOf('"n":1')).toBeLessThan(all.indexOf('"n":2'));
      expect(all).toContain('[DONE]');
    });
  });
});

describe.skipIf(!SYSTEMD_ANALYZE)('systemd unit', () => {
  it('systemd-analyze verify reports nothing', () => {
    // verify checks that ExecStart exists; point it at a real executable in a temp copy.
    const unit = path.join(tmp, 'ai-relay.service');
    const fakeBin = path.join(tmp, 'ai-relay');
    fs.writeFileSync(fakeBin, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    fs.writeFileSync(unit, fs.readFileSync(path.join(DEPLOY, 'ai-relay.service'), 'utf8').replace('ExecStart=/usr/local/bin/ai-relay', `ExecStart=${fakeBin}`));
    const r = spawnSync(SYSTEMD_ANALYZE!, ['verify', '--man=no', unit], { encoding: 'utf8', timeout: 20_000 });
    // verify exits 0 on unknown keys and bad values but prints them: any output is a failure.
    const noise = (r.stderr + r.stdout)
      .split('\n')
      .filter((l) => l.trim() && !/Failed to connect to bus|System has not been booted with systemd|ai-relay\.env/.test(l));
    expect(noise, r.stderr).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('has the promised policy', () => {
    const unit = fs.readFileSync(path.join(DEPLOY, 'ai-relay.service'), 'utf8');
    for (const line of [
      /^EnvironmentFile=\/etc\/ai-relay\/ai-relay\.env$/m,
      /^Restart=on-failure$/m,
      /^User=ai-relay$/m,
      /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m,
      /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m,
      /^NoNewPrivileges=true$/m,
      /^ProtectSystem=strict$/m,
      /^PrivateTmp=true$/m,
      /^Environment=AI_RELAY_CACHE_DIR=\/var\/cache\/ai-relay$/m,
      /^CacheDirectory=ai-relay$/m,
    ]) {
      expect(unit).toMatch(line);
    }
    // V8's JIT needs writable+executable memory.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=true/m);
  });
});

describe('Dockerfile (structure only: no Docker engine here)', () => {
  const text = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = lines.filter((l) => /^FROM\s/i.test(l));
  const finalStage = lines.slice(lines.lastIndexOf(stages.at(-1)!));

  it('is multi-stage: builds with node:20, runs without node', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]).toMatch(/^FROM node:20\S* AS build$/);
    expect(stages.at(-1)).not.toMatch(/node/);
    expect(lines).toContain('RUN npm run build:binary && ./dist/ai-relay-linux-x64 --version');
    expect(finalStage.some((l) => /^COPY --from=build \S*ai-relay-linux-x64 /.test(l))).toBe(true);
  });

  it('runs as a non-root user, with the cache dir set', () => {
    const user = finalStage.filter((l) => /^USER\s/.test(l)).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER\s+(root|0)(:|$)/);
    expect(finalStage).toContain('ENV AI_RELAY_CACHE_DIR=/var/cache/ai-relay');
    expect(finalStage.some((l) => l.startsWith('ENTRYPOINT ["/usr/local/bin/ai-relay"]'))).toBe(true);
  });

  it('every instruction is one Docker knows', () => {
    const known = /^(FROM|RUN|CMD|LABEL|EXPOSE|ENV|ADD|COPY|ENTRYPOINT|VOLUME|USER|WORKDIR|ARG|ONBUILD|STOPSIGNAL|HEALTHCHECK|SHELL)\s/;
    for (const l of lines) expect(l).toMatch(known);
  });

  it('the build stage copies everything build:binary reads', () => {
    for (const p of ['package.json package-lock.json', 'scripts', 'src']) expect(text).toContain(`COPY ${p}`);
  });
});

function request(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
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
