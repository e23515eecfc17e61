/**
 * sharp loads after the relay listens (src/transforms/image-library.ts), through the shipped CLI
 * (bin/ai-relay.js after `npm run build`):
 *
 *  - a png-to-jpeg route converts the very first request, sent the moment /health first answers,
 *    and the debug log shows sharp loaded after "listening";
 *  - with sharp broken (a preload that makes its addon's dlopen fail, fixtures/break-sharp.mjs),
 *    `serve` stays up: one error names the route and the cause, readyPath reports the route
 *    failing, the route answers 503 route_disabled in the spec's JSON shape, other routes serve;
 *    `check` still fails with exit 1 at the route's `transforms`, as before.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, waitForHealth, type CliProcess } from '../helpers/cli.js';
import { freePort } from '../helpers/redis.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { inspect, makePng } from './helpers.js';

const BREAK_SHARP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'break-sharp.mjs');
/** The preload needs node flags, which a single executable (AI_RELAY_CLI=<binary>) does not take. */
const takesNodeFlags = [undefined, '', 'bin', 'tsc'].includes(process.env.AI_RELAY_CLI);



async function stop(cli: CliProcess): Promise<number | null> {
  cli.child.kill('SIGTERM');
  const r = await Promise.race([cli.exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no exit 10s after SIGTERM')), 10_000))]);
  return r.code;
}

/** JSON log lines of a relay run. */
function logLines(cli: CliProcess): Record<string, unknown>[] {
  return cli
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('sharp loads after the relay listens', () => {
  let dir: string;
  let up: FakeUpstream;
  let png: Buffer;

  const config = (port: number) =>
    [
      'server:',
      '  host: 127.0.0.1',
      `  port: ${port}`,
      'log:',
      '  level: debug',
      '  format: json',
      'routes:',
      '  - name: images',
      '    prefix: /images',
      `    upstream: ${up.url}`,
      '    auth: none',
      '    transforms:',
      '      - png-to-jpeg: {}',
      '  - name: plain',
      '    prefix: /plain',
      `    upstream: ${up.url}`,
      '    auth: none',
      '',
    ].join('\n');

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ai-relay-lazy-sharp-'));
    png = await makePng(24, 16, { r: 0, g: 0, b: 255, alpha: 1 });
    up = await startUpstream((req, res) => {
      if (req.url?.endsWith('.png')) {
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
        return void res.end(png);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, url: req.url }));
    });
  });

  afterAll(async () => {
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the first request, sent as soon as /health answers, is converted; sharp loaded after listening', async () => {
    const port = await freePort();
    const file = path.join(dir, 'ok.yaml');
    writeFileSync(file, config(port));
    const cli = await startCli(['serve', '--config', file]);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHealth(url, cli, { everyMs: 2 }); // as the bench's cold-start scenario polls
      const r = await fetch(`${url}/images/first.png`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/jpeg');
      const body = Buffer.from(await r.arrayBuffer());
      expect(r.headers.get('content-length')).toBe(String(body.length));
      expect(await inspect(body)).toMatchObject({ format: 'jpeg', width: 24, height: 16 });
      await cli.waitFor(/image library \(sharp\) loaded/, 5000);
    } finally {
      expect(await stop(cli)).toBe(0);
    }
    const msgs = logLines(cli).map((l) => String(l.msg));
    const listening = msgs.findIndex((m) => m.startsWith('ai-relay listening on'));
    const loaded = msgs.indexOf('image library (sharp) loaded');
    expect(listening, msgs.join('\n')).toBeGreaterThanOrEqual(0);
    expect(loaded, msgs.join('\n')).toBeGreaterThan(listening);
    expect(cli.stdout()).not.toMatch(/"level":"(error|fatal)"/);
  }, 30_000);

  it.runIf(takesNodeFlags)('sharp cannot load: serve stays up and says why, the image route answers 503 route_disabled, check exits 1', async () => {
    const port = await freePort();
    const file = path.join(dir, 'broken.yaml');
    writeFileSync(file, config(port));
    const cli = await startCli(['serve', '--config', file], { nodeArgs: ['--import', BREAK_SHARP] });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHealth(url, cli, { everyMs: 2 }); // as the bench's cold-start scenario polls
      await cli.waitFor(/failed to load/, 10_000);

      const ready = await fetch(`${url}/ready`);
      expect(ready.status).toBe(200); // the other routes serve: the relay as a whole is ready
      const state = (await ready.json()) as { status: string; routes: { name: string; state: string; problem?: string }[] };
      expect(state.status).toBe('ready');
      expect(state.routes.find((r) => r.name === 'plain')).toEqual({ name: 'plain', state: 'ok' });
      const images = state.routes.find((r) => r.name === 'images')!;
      expect(images.state).toBe('failing');
      expect(images.problem).toMatch(/^png-to-jpeg cannot run: the image library \(sharp\/libvips\) failed to load: .*sharp.*simulated/);
      expect(images.problem).not.toContain('\n');

      const before = up.requests.length;
      const refused = await fetch(`${url}/images/x.png`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
      const err = (await refused.json()) as { error: { type: string; message: string; route: string; request_id: string } };
      expect(err.error.type).toBe('route_disabled');
      expect(err.error.route).toBe('images');
      expect(err.error.message).toBe(`route images is disabled: ${images.problem}`);
      expect(err.error.request_id).toBe(refused.headers.get('x-request-id'));
      expect(up.requests.length).toBe(before); // refused before anything was generated upstream

      const plain = await fetch(`${url}/plain/v1/models`);
      expect(plain.status).toBe(200);
      expect(await plain.json()).toEqual({ ok: true, url: '/v1/models' });
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      expect(await stop(cli)).toBe(0);
    }
    const errors = logLines(cli).filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1); // once, not per request
    expect(errors[0]!.routes).toEqual(['images']);
    expect(String(errors[0]!.msg)).toMatch(/image library \(sharp\/libvips\) failed to load: .*simulated.*route images answers 503 route_disabled/);
    expect(String(errors[0]!.err)).toContain('Possible solutions'); // sharp's full advice is in the log

    // check loads sharp itself and reports it against the route, exit 1, as before this change.
    const check = await runCli(['check', '--config', file], { env: { NODE_OPTIONS: `--import=${BREAK_SHARP}` } });
    expect(check.code).toBe(1);
    expect(check.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:13:7 route "images": Could not load the "sharp" module`, 'm'));
    expect(check.stderr).toContain('simulated');
    expect(check.stderr).toMatch(/1 problem found/);
  }, 30_000);
});
