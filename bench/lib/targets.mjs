// The things under test. Every target exposes the same URL layout, `<base>/api/v1/...`, and
// gets the same request headers (relay token + Origin); the proxies inject the same upstream
// Authorization header. "direct" is the upstream itself (its `/api` prefix is ignored).
import { writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start } from './spawn.mjs';
import { freePort, waitFor200 } from './http.mjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TOKEN = 'bench-relay-token-3f9a2c71';
export const ORIGIN = 'https://app.example';
export const UPSTREAM_AUTH = 'Bearer sk-bench-upstream-key-0000000000';
/** Headers every client sends to every target. */
export const CLIENT_HEADERS = { 'x-proxy-token': TOKEN, origin: ORIGIN };

export const TARGETS = ['direct', 'relay', 'nginx', 'fastify', 'http-proxy'];
/**
 * Reference rows, each measured only where it means something: the floor of any node:http +
 * undici proxy (no features) in the small-JSON, SSE and open-streams scenarios, the relay on both
 * cores (`--workers 2`) in the small-JSON ones, and the single executable (built by the bench
 * from the current sources, scripts/build-binary.mjs) in the cold start.
 */
export const REFERENCE = ['undici-floor', 'relay-w2', 'relay-plain', 'relay-binary'];
export const REFERENCE_SCENARIOS = {
  'undici-floor': ['small50', 'conn1', 'sse64', 'openStreams', 'openStreams10k'],
  'relay-w2': ['small50', 'conn1'],
  'relay-plain': ['small50'],
  'relay-binary': ['coldStart'],
};
export const LABELS = {
  direct: 'direct (no proxy)',
  relay: 'ai-relay',
  'relay-w2': 'ai-relay --workers 2',
  'relay-plain': 'ai-relay, plain route (no token, CORS or key)',
  'relay-binary': 'ai-relay single executable',
  'undici-floor': 'bare undici proxy (floor)',
  nginx: 'nginx proxy_pass',
  fastify: '@fastify/http-proxy',
  'http-proxy': 'http-proxy (keep-alive)',
};

export async function startUpstream(tmp, imageJsonFile) {
  const h = await start(process.execPath, [join(ROOT, 'bench/peers/upstream.mjs')], {
    env: imageJsonFile ? { BENCH_IMAGE_JSON: imageJsonFile } : {},
    ready: 'line',
  });
  return { ...h, url: `http://127.0.0.1:${h.info.port}` };
}

export function relayYaml(upstreamUrl, { maxConnections } = {}) {
  // A realistic route: relay-token auth, CORS for one origin, an injected upstream key, the
  // access log on at info. The image route adds the png-to-jpeg transform at q95.
  const common = `    auth: [web]
    cors:
      origins: ["${ORIGIN}"]
    headers:
      set:
        Authorization: ${UPSTREAM_AUTH}
`;
  // Route `/plain` (issue #19, goal 1): the same relay with no token, no CORS and no injected
  // key, for the "plain route" row; the access log stays on.
  return `server:
  host: 127.0.0.1
  port: 8787
${maxConnections ? `  limits:\n    maxConnections: ${maxConnections}\n` : ''}log:
  level: info
  format: json
clients:
  web: ${TOKEN}
egress:
  proxy: none
routes:
  - name: api
    prefix: /api
    upstream: ${upstreamUrl}
${common}  - name: images
    prefix: /img
    upstream: ${upstreamUrl}
${common}    transforms:
      - png-to-jpeg:
          quality: 95
  - name: plain
    prefix: /plain
    upstream: ${upstreamUrl}
    auth: none
`;
}

/**
 * Starts ai-relay via its CLI, exactly as a user would (`node bin/ai-relay.js serve`), or the
 * single executable (`binary`: its path; then `entry` and `nodeArgs` do not apply). `name` names
 * its config and log files (several relays in one run).
 */
export async function startRelay(tmp, upstreamUrl, { nodeArgs = [], workers, entry = 'bin/ai-relay.js', yaml, binary, name = 'relay' } = {}) {
  const cfg = join(tmp, `${name}.yaml`);
  writeFileSync(cfg, yaml ?? relayYaml(upstreamUrl));
  const port = await freePort();
  const args = [...(binary ? [] : [...nodeArgs, join(ROOT, entry)]), 'serve', '--config', cfg, '--host', '127.0.0.1', '--port', String(port)];
  if (workers) args.push('--workers', String(workers));
  const since = performance.now();
  const h = await start(binary ?? process.execPath, args, { logFile: join(tmp, workers ? `${name}-w${workers}-access.log` : `${name}-access.log`), cwd: tmp });
  const url = `http://127.0.0.1:${port}`;
  try {
    const ms = await waitFor200(`${url}/health`, { since, isAlive: h.alive });
    return { ...h, url, startMs: ms };
  } catch (e) {
    await h.stop('SIGKILL');
    throw e;
  }
}

export function nginxConf(dir, port, upstreamPort) {
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  return `# 1 worker: the Node peers each run on one core too.
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
worker_rlimit_nofile 40000;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 20000; }
http {
  access_log ${dir}/logs/access.log;    # on, like the relay's access log
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 64m;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location /api/ {
      proxy_pass http://up/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "${UPSTREAM_AUTH}";
      proxy_buffering off;            # stream responses (SSE) like the relay
      proxy_request_buffering off;    # stream request bodies like the relay
      proxy_read_timeout 600s;
    }
  }
}
`;
}

export async function startNginx(tmp, upstreamPort) {
  const dir = join(tmp, 'nginx');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, port, upstreamPort));
  const since = performance.now();
  const h = await start('nginx', ['-p', dir, '-c', conf, '-e', join(dir, 'logs/error.log')], { logFile: join(dir, 'logs/stdout.log') });
  const url = `http://127.0.0.1:${port}`;
  try {
    const ms = await waitFor200(`${url}/api/health`, { since, isAlive: h.alive });
    return { ...h, url, startMs: ms, stop: (sig = 'SIGQUIT', grace) => h.stop(sig, grace) };
  } catch (e) {
    await h.stop('SIGKILL');
    throw e;
  }
}

const PEER_SCRIPTS = {
  fastify: 'bench/peers/fastify-proxy.mjs',
  'http-proxy': 'bench/peers/http-proxy.mjs',
  'undici-floor': 'bench/peers/undici-floor.mjs',
};

export async function startNodePeer(name, upstreamUrl) {
  const script = PEER_SCRIPTS[name];
  const since = performance.now();
  const h = await start(process.execPath, [join(ROOT, script)], {
    env: { UPSTREAM: upstreamUrl, UPSTREAM_AUTH },
    ready: 'line',
  });
  const url = `http://127.0.0.1:${h.info.port}`;
  const ms = await waitFor200(`${url}/api/health`, { since, isAlive: h.alive });
  return { ...h, url, startMs: ms };
}

/**
 * The single executable of the current sources, built once per bench run into the scratch dir
 * (3-5 s) so its figures never come from a stale dist/ai-relay-linux-x64.
 */
export function relayBinary(tmp) {
  const out = join(tmp, 'ai-relay-linux-x64');
  if (!existsSync(out)) execFileSync(process.execPath, [join(ROOT, 'scripts/build-binary.mjs'), '--out', out], { cwd: ROOT, stdio: 'ignore' });
  return out;
}

/** Starts one target. `upstream` is the running upstream handle. */
export async function startTarget(name, tmp, upstream, opts = {}) {
  switch (name) {
    case 'direct':
      // The upstream is the "proxy": its CPU is what the other rows add to.
      return { pid: upstream.pid, url: upstream.url, startMs: 0, alive: upstream.alive, stop: async () => {} };
    case 'relay':
      return startRelay(tmp, upstream.url, opts);
    case 'relay-binary':
      return startRelay(tmp, upstream.url, { ...opts, binary: relayBinary(tmp) });
    case 'relay-plain': {
      // The same relay, its route `/plain`: the wrk client then sends no token and no Origin.
      const t = await startRelay(tmp, upstream.url, { ...opts, name: 'relay-plain' });
      return { ...t, prefix: '/plain', clientHeaders: false };
    }
    case 'relay-w2':
      // The same relay on both cores (spec §9): two processes on one port, each with its own pools.
      return startRelay(tmp, upstream.url, { ...opts, workers: 2 });
    case 'nginx':
      return startNginx(tmp, upstream.info.port);
    case 'fastify':
    case 'http-proxy':
    case 'undici-floor':
      return startNodePeer(name, upstream.url);
    default:
      throw new Error(`unknown target ${name}`);
  }
}
