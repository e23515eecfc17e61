/**
 * The real CLI in a child process (test/helpers/cli.ts bundles the current sources): SIGHUP reload
 * with a stream in flight, an invalid edit logged with FILE:LINE:COL, --watch picking up a file
 * edit, SIGTERM draining (ready 503, the stream completes, exit 0), a stream longer than the grace
 * cut and logged, and --workers 2 serving with whole-relay metrics.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { freePort } from '../helpers/redis.js';
import { aiRouteConfig, bodyReader, events, parseExposition, startSseUpstream, waitFor, type SseUpstream } from './helpers.js';

const TOKEN = 'tok-web-123456';

function config(upstream: string, key: string, opts: { grace?: string; extra?: string } = {}): string {
  return aiRouteConfig(upstream, key, { serverExtra: `  shutdownGrace: ${opts.grace ?? '5s'}\n`, ...(opts.extra ? { extra: opts.extra } : {}) });
}

interface Running {
  p: CliProcess;
  url: string;
  file: string;
  /** Parsed JSON log lines so far. */
  lines(): Record<string, unknown>[];
  waitLine(pred: (l: Record<string, unknown>) => boolean, ms?: number, what?: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

const auth = { 'x-proxy-token': TOKEN };

describe('serve in a child process', () => {
  let up: SseUpstream;
  let dir: string;
  const procs: CliProcess[] = [];

  async function serve(text: string, args: string[] = []): Promise<Running> {
    const file = path.join(dir, `relay-${procs.length}.yaml`);
    writeFileSync(file, text);
    const port = await freePort();
    const p = await startCli(['serve', '--config', file, '--host', '127.0.0.1', '--port', String(port), ...args], { cwd: dir, env: { WEB: TOKEN } });
    procs.push(p);
    const lines = () =>
      p
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const waitLine = async (pred: (l: Record<string, unknown>) => boolean, ms = 8000, what = 'a log line') => {
      let found: Record<string, unknown> | undefined;
      await waitFor(() => (found = lines().find(pred)) !== undefined || p.child.exitCode !== null, ms, what).catch((err: Error) => {
        throw new Error(`${err.message}\nstdout:\n${p.stdout()}\nstderr:\n${p.stderr()}`);
      });
      if (!found) throw new Error(`process exited before ${what}:\n${p.stdout()}\n${p.stderr()}`);
      return found;
    };
    await waitLine((l) => String(l.msg).startsWith('ai-relay listening on'), 10_000, 'the listening line');
    return {
      p,
      url: `http://127.0.0.1:${port}`,
      file,
      lines,
      waitLine,
      async stop() {
        // SIGINT drains without the drainDelay (interactive stop): keeps the suite quick.
        if (p.child.exitCode === null) p.child.kill('SIGINT');
        await p.exited;
      },
    };
  }

  beforeAll(async () => {
    up = await startSseUpstream();
    dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-ops-'));
  });
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGHUP: a stream keeps flowing, the next request uses the new key; an invalid edit is logged as FILE:LINE:COL and changes nothing', async () => {
    const r = await serve(config(up.url, 'sk-old-1111'));
    try {
      const before = up.auths.length;
      // Long enough (~3 s) to still be flowing after two reloads on a loaded CI box.
      const res = await fetch(`${r.url}/ai/stream?n=75&every=40`, { headers: auth });
      const body = bodyReader(res);
      await body.until((t) => events(t).length >= 2);

      writeFileSync(r.file, config(up.url, 'sk-new-2222'));
      r.p.child.kill('SIGHUP');
      await r.waitLine((l) => l.msg === 'configuration reloaded', 5000, 'the reload');
      expect(body.done()).toBe(false);
      expect(await (await fetch(`${r.url}/ai/x`, { headers: auth })).json()).toEqual({ ok: true, auth: 'Bearer sk-new-2222' });

      // An invalid edit: line 3 col 3 is the misspelled key.
      writeFileSync(r.file, config(up.url, 'sk-bad-3333').replace('  metricsPath: /metrics\n', '  metricsPath: /metrics\n  shutdownGrac: 5s\n'));
      r.p.child.kill('SIGHUP');
      const issue = await r.waitLine((l) => l.level === 'error' && /relay-\d+\.yaml:\d+:\d+ /.test(String(l.msg)), 5000, 'the FILE:LINE:COL error');
      expect(String(issue.msg)).toMatch(new RegExp(`${path.basename(r.file).replace('.', '\\.')}:3:3 unknown key "shutdownGrac".*did you mean`));
      await r.waitLine((l) => String(l.msg).startsWith('reload rejected'), 5000, 'the rejection');
      expect(await (await fetch(`${r.url}/ai/x`, { headers: auth })).json()).toEqual({ ok: true, auth: 'Bearer sk-new-2222' });

      const { text, error } = await body.end(5000);
      expect(error).toBeUndefined();
      expect(events(text)).toHaveLength(75);
      expect((events(text) as { auth: string }[]).every((e) => e.auth === 'Bearer sk-old-1111')).toBe(true);
      expect(up.auths.slice(before)).toEqual(['Bearer sk-old-1111', 'Bearer sk-new-2222', 'Bearer sk-new-2222']);

      const m = parseExposition(await (await fetch(`${r.url}/metrics`)).text());
      expect(m.value('ai_relay_config_reloads_total', { result: 'ok' })).toBe(1);
      expect(m.value('ai_relay_config_reloads_total', { result: 'failed' })).toBe(1);
      expect(r.p.stdout()).not.toContain('sk-bad-3333');
    } finally {
      await r.stop();
    }
  });

  it('--watch reloads when the .env file or the config file is edited', async () => {
    const envFile = path.join(dir, 'watch.env');
    writeFileSync(envFile, 'UPKEY=sk-env-1\n');
    const r = await serve(config(up.url, '${UPKEY}'), ['--watch', '--env-file', envFile]);
    const reloads = () => r.lines().filter((l) => l.msg === 'configuration reloaded').length;
    const ask = async () => ((await (await fetch(`${r.url}/ai/x`, { headers: auth })).json()) as { auth: string }).auth;
    try {
      expect(await ask()).toBe('Bearer sk-env-1');
      writeFileSync(envFile, 'UPKEY=sk-env-2\n');
      await waitFor(() => reloads() === 1, 5000, 'the reload after the .env edit');
      expect(await ask()).toBe('Bearer sk-env-2');
      writeFileSync(r.file, config(up.url, 'sk-literal-3'));
      await waitFor(() => reloads() === 2, 5000, 'the reload after the config edit');
      expect(await ask()).toBe('Bearer sk-literal-3');
      expect(r.lines().filter((l) => l.trigger === 'watch').length).toBeGreaterThanOrEqual(2);
    } finally {
      await r.stop();
    }
  });

  it('SIGTERM during a stream: ready 503 at once, the stream completes within the grace, exit 0', async () => {
    const r = await serve(config(up.url, 'sk-a'));
    const res = await fetch(`${r.url}/ai/stream?n=30&every=50`, { headers: auth });
    const body = bodyReader(res);
    await body.until((t) => events(t).length >= 2);
    r.p.child.kill('SIGTERM');
    await r.waitLine((l) => String(l.msg).startsWith('draining'), 3000, 'the drain start');
    // drainDelay (1 s by default): the listener still answers, and says it is leaving.
    const ready = await fetch(`${r.url}/ready`, { headers: { connection: 'close' } });
    expect(ready.status).toBe(503);
    const { text, error } = await body.end(5000);
    expect(error).toBeUndefined();
    expect(events(text)).toHaveLength(30);
    const exit = await r.p.exited;
    expect(exit.code).toBe(0);
    expect(r.lines().some((l) => String(l.msg).startsWith('exchange cut'))).toBe(false);
    expect(r.lines().at(-1)?.msg).toBe('stopped');
  });

  it('a stream longer than shutdownGrace is cut and logged; exit 0', async () => {
    const r = await serve(config(up.url, 'sk-a', { grace: '1500ms' }));
    const res = await fetch(`${r.url}/ai/stream?n=200&every=50`, { headers: auth });
    const body = bodyReader(res);
    await body.until((t) => events(t).length >= 1);
    const t0 = Date.now();
    r.p.child.kill('SIGTERM');
    const exit = await r.p.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4000);
    const { text } = await body.end(3000);
    expect(events(text).length).toBeLessThan(200);
    const cut = r.lines().find((l) => l.msg === 'exchange cut: the shutdown grace passed');
    expect(cut).toMatchObject({ level: 'warn', route: 'ai', path: '/ai/stream' });
    expect(r.lines().find((l) => l.req_id === cut!.req_id && l.status === 200)?.outcome).toMatch(/^cut: shutdown grace/);
  });

  it('--workers 2: both workers serve one port; /metrics answers for the whole relay; SIGTERM stops all, exit 0', async () => {
    const r = await serve(config(up.url, 'sk-w'), ['--workers', '2']);
    try {
      // Wait until both workers listen (each prints its own banner).
      await waitFor(() => r.lines().filter((l) => String(l.msg).startsWith('ai-relay listening on')).length === 2, 10_000, 'two workers');
      const N = 20;
      for (let i = 0; i < N; i++) {
        // A new connection per request, so the primary spreads them over the workers.
        const status = await new Promise<number>((resolve, reject) => {
          http.get(`${r.url}/ai/x`, { headers: auth, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          }).on('error', reject);
        });
        expect(status).toBe(200);
      }
      // Access lines are written when the response finished: they may trail the client by a moment.
      await waitFor(() => r.lines().filter((l) => l.path === '/ai/x').length === N, 3000, 'every access line');
      const access = r.lines().filter((l) => l.path === '/ai/x');
      const served = new Set(access.map((l) => l.worker));
      expect(served).toEqual(new Set([1, 2]));

      for (let scrape = 0; scrape < 2; scrape++) {
        const res = await new Promise<string>((resolve, reject) => {
          http.get(`${r.url}/metrics`, { agent: false }, (res) => {
            let s = '';
            res.on('data', (c) => (s += c));
            res.on('end', () => resolve(s));
          }).on('error', reject);
        });
        const m = parseExposition(res);
        // Whichever worker answered, the numbers are the sum over both.
        expect(m.value('ai_relay_requests_total', { route: 'ai', status_class: '2xx', client: 'web' })).toBe(N);
        expect(m.value('ai_relay_upstream_latency_seconds_count', { route: 'ai' })).toBe(N);
        expect(m.value('ai_relay_workers')).toBe(2);
        expect(m.samples.find((s) => s.name === 'ai_relay_info')?.value).toBe(1);
      }

      // A worker that dies is replaced; the relay keeps answering meanwhile.
      const first = r.lines().find((l) => l.msg === 'worker started' && l.worker_id === 1)!;
      process.kill(first.pid as number, 'SIGKILL');
      await r.waitLine((l) => l.msg === 'worker started' && l.worker_id === 3, 8000, 'the replacement worker');
      await waitFor(() => r.lines().filter((l) => String(l.msg).startsWith('ai-relay listening on')).length === 3, 10_000, 'the replacement to listen');
      const m = parseExposition(await (await fetch(`${r.url}/metrics`)).text());
      expect(m.value('ai_relay_worker_restarts_total')).toBe(1);
      expect(m.value('ai_relay_workers')).toBe(2);
      expect((await fetch(`${r.url}/ai/x`, { headers: auth })).status).toBe(200);

      r.p.child.kill('SIGTERM');
      const exit = await r.p.exited;
      expect(exit.code).toBe(0);
      expect(r.lines().filter((l) => l.msg === 'stopped').map((l) => l.worker).sort()).toEqual([2, 3]);
      expect(r.lines().at(-1)).toMatchObject({ worker: 'primary', msg: 'all workers stopped' });
    } finally {
      await r.stop();
    }
  });
});
