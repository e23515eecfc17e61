/**
 * The dashboard's HTTP contract (spec §14): off by default, login and sessions, cookie flags,
 * the Origin guard, logout, the security headers on every answer, the size budget, and that
 * dashboard traffic stays out of routing, the access log, metrics and rate limits.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { APP_CSS, APP_HTML, APP_JS, LOGIN_HTML } from '../../src/dashboard/assets.generated.js';
import { ConfigError } from '../../src/errors.js';
import { writeFileSync } from 'node:fs';
import { startCli } from '../helpers/cli.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { ADMIN, CLIENT, dashboardYaml, env, expectShippedAssets, login, openEvents } from './helpers.js';

const HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

function expectSecurityHeaders(r: Response, what: string): void {
  for (const [k, v] of Object.entries(HEADERS)) expect(r.headers.get(k), `${k} on ${what}`).toBe(v);
  for (const k of r.headers.keys()) expect(k.startsWith('access-control-'), `${k} on ${what}`).toBe(false);
}

describe('dashboard off (the default)', () => {
  it('answers 404 and never forwards the path upstream', async () => {
    const up = await startUpstream();
    const relay = await startTestRelay(`routes:\n  - name: api\n    prefix: /api\n    upstream: ${up.url}\n    auth: none\n`);
    try {
      for (const p of ['/_relay', '/_relay/login', '/_relay/events', '/_relay/api/snapshot']) {
        const r = await fetch(relay.url + p, { method: p.endsWith('login') ? 'POST' : 'GET' });
        expect(r.status, p).toBe(404);
        expect(((await r.json()) as { error: { type: string } }).error.type).toBe('no_route');
      }
      expect(up.requests).toHaveLength(0);
      expect(relay.relay.dashboard).toBeUndefined();
      expect(relay.relay.state.intercept).toBeUndefined();
    } finally {
      await relay.close();
      await up.close();
    }
  });
});

describe('dashboard on', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  beforeAll(async () => {
    up = await startUpstream();
    relay = await startTestRelay(
      dashboardYaml(up.url, `  basePaths: ["/", "/r"]\n  metricsPath: /metrics\n`).replace('    auth: [web]\n', '    auth: [web]\n    rateLimit:\n      requests: 2\n      per: 1h\n'),
      { env },
    );
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('shows the login form without a session, and the route covering the path yields to it', async () => {
    const r = await fetch(`${relay.url}/_relay`);
    expect(r.status).toBe(200);
    expectSecurityHeaders(r, 'login page');
    const html = await r.text();
    expect(html).toContain('<form method="post" action="/_relay/login">');
    expect(html).not.toContain('%MOUNT%');
    expect(up.requests).toHaveLength(0);
  });

  it('refuses a wrong or missing token with 401, as JSON or as the form page', async () => {
    const json = await fetch(`${relay.url}/_relay/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: CLIENT }) });
    expect(json.status).toBe(401);
    expectSecurityHeaders(json, 'JSON 401');
    expect(json.headers.get('set-cookie')).toBeNull();
    const body = (await json.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('unauthorized');
    expect(JSON.stringify(body)).not.toContain(CLIENT);

    const form = await fetch(`${relay.url}/_relay/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=nope', redirect: 'manual' });
    expect(form.status).toBe(401);
    expectSecurityHeaders(form, 'form 401');
    expect(await form.text()).toContain('<p class="error" role="alert">Wrong token.</p>');

    const none = await fetch(`${relay.url}/_relay/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(none.status).toBe(401);
    const garbage = await fetch(`${relay.url}/_relay/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":' });
    expect(garbage.status).toBe(401);
    expect((await fetch(`${relay.url}/_relay/api/snapshot`)).status).toBe(401);
    expect((await fetch(`${relay.url}/_relay/events`)).status).toBe(401);
    expect((await fetch(`${relay.url}/_relay/login`)).status).toBe(405);
  });

  it('sets a random session id (never the token) in an HttpOnly, SameSite=Strict cookie scoped to the path', async () => {
    const form = await fetch(`${relay.url}/_relay/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ADMIN}`, redirect: 'manual' });
    expect(form.status).toBe(303);
    expect(form.headers.get('location')).toBe('/_relay');
    const cookie = form.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^ai_relay_dashboard=[A-Za-z0-9_-]{43}; Path=\/_relay; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(cookie).not.toContain(ADMIN);
    expect(cookie).not.toContain('Secure'); // plain HTTP here; see the TLS test below
    const second = await login(relay.url);
    expect(second).not.toBe(cookie.split(';')[0]);
    expect(await (await fetch(`${relay.url}/_relay/api/session`, { headers: { cookie: second } })).json()).toEqual({ session: true });
    expect(await (await fetch(`${relay.url}/_relay/api/session`, { headers: { cookie: 'ai_relay_dashboard=forged' } })).json()).toEqual({ session: false });
    const page = await fetch(`${relay.url}/_relay/`, { headers: { cookie: second } });
    expect(await page.text()).toContain('<script src="/_relay/app.js" defer></script>');
  });

  it('answers under every base path, with the cookie scoped to it', async () => {
    const r = await fetch(`${relay.url}/r/_relay/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN }) });
    expect(r.status).toBe(200);
    expect(r.headers.get('set-cookie')).toContain('Path=/r/_relay;');
    const cookie = r.headers.get('set-cookie')!.split(';')[0]!;
    const snap = await fetch(`${relay.url}/r/_relay/api/snapshot`, { headers: { cookie } });
    expect(snap.status).toBe(200);
    expect(up.requests).toHaveLength(0);
  });

  it('refuses a foreign or null Origin with 403 forbidden on every dashboard request', async () => {
    const cookie = await login(relay.url);
    const host = new URL(relay.url).host;
    const cases: [string, RequestInit][] = [
      ['/_relay', {}],
      ['/_relay/app.js', {}],
      ['/_relay/api/snapshot', {}],
      ['/_relay/events', {}],
      ['/_relay/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${ADMIN}` }],
      ['/_relay/logout', { method: 'POST' }],
    ];
    // Host and port decide (spec §14): behind a TLS-terminating proxy the page's https:// origin
    // reaches the relay over plain HTTP with the same Host.
    for (const origin of ['http://evil.example', 'null', `http://${host.replace(/:\d+$/, ':1')}`, `http://${host}.evil.example`, 'file://', 'garbage']) {
      for (const [p, init] of cases) {
        const r = await fetch(relay.url + p, { ...init, headers: { ...(init.headers as Record<string, string>), cookie, origin }, redirect: 'manual' });
        expect(r.status, `${origin} ${p}`).toBe(403);
        expectSecurityHeaders(r, `403 ${p}`);
        expect(((await r.json()) as { error: { type: string } }).error.type).toBe('forbidden');
      }
    }
    // The page's own origin passes.
    const ok = await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie, origin: `http://${host}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('logout ends the session and its event stream', async () => {
    const cookie = await login(relay.url);
    const sse = await openEvents(`${relay.url}/_relay/events`, cookie);
    expect(sse.status).toBe(200);
    expect(sse.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(sse.headers['content-security-policy']).toBe(HEADERS['content-security-policy']);
    const out = await fetch(`${relay.url}/_relay/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    await Promise.race([sse.ended, new Promise((_, reject) => setTimeout(() => reject(new Error('stream still open after logout')), 3000))]);
    expect((await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).status).toBe(401);
  });

  it('sends the security headers on every answer, and nothing unknown is forwarded', async () => {
    const cookie = await login(relay.url);
    const answers = await Promise.all([
      fetch(`${relay.url}/_relay`, { headers: { cookie } }),
      fetch(`${relay.url}/_relay/app.js`),
      fetch(`${relay.url}/_relay/app.css`),
      fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } }),
      fetch(`${relay.url}/_relay/nope`, { headers: { cookie } }),
      fetch(`${relay.url}/_relay/api/snapshot`, { method: 'DELETE', headers: { cookie } }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 404, 405]);
    answers.forEach((r, i) => expectSecurityHeaders(r, `answer ${i}`));
    expect(answers[1]!.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(up.requests).toHaveLength(0);
  });

  it('serves the generated assets byte for byte, within 150 KB, and the generated module is fresh', async () => {
    const js = Buffer.from(await (await fetch(`${relay.url}/_relay/app.js`)).arrayBuffer());
    const css = Buffer.from(await (await fetch(`${relay.url}/_relay/app.css`)).arrayBuffer());
    expect(js.equals(Buffer.from(APP_JS))).toBe(true);
    expect(css.equals(Buffer.from(APP_CSS))).toBe(true);
    const total = Buffer.byteLength(APP_HTML) + Buffer.byteLength(APP_CSS) + Buffer.byteLength(APP_JS);
    expect(total).toBeLessThanOrEqual(150 * 1024);
    expect(Buffer.byteLength(LOGIN_HTML)).toBeLessThan(4096);
    // No CDN, no web font, no inline script or style: the CSP would refuse them anyway.
    for (const html of [APP_HTML, LOGIN_HTML]) {
      expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
      expect(html).not.toMatch(/<style|style=|<script>|onclick=/i);
    }
    expect(APP_CSS).not.toMatch(/@font-face|@import|url\(http/);
    execFileSync(process.execPath, ['scripts/build-dashboard.mjs', '--check'], { cwd: path.resolve(import.meta.dirname, '../..'), stdio: 'pipe' });
  });

  it('keeps dashboard traffic out of the access log, metrics and rate limits', async () => {
    const cookie = await login(relay.url);
    // The route allows 2 requests per hour; the dashboard is not limited by it.
    for (let i = 0; i < 5; i++) expect((await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).status).toBe(200);
    await fetch(`${relay.url}/_relay/login`, { method: 'POST', body: 'token=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).not.toMatch(/ai_relay_requests_total\{route="-"/);
    expect(metrics).not.toContain('/_relay');
    // No access line (the startup line naming the dashboard's address is the only mention).
    expect(relay.lines().filter((l) => String(l.path ?? '').includes('/_relay') || String(l.msg).includes('/_relay/'))).toEqual([]);
    expect(relay.lines().filter((l) => String(l.msg).startsWith('dashboard at '))).toHaveLength(1);
    const snap = (await (await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).json()) as { tail: unknown[] };
    expect(snap.tail).toHaveLength(0);
  });
});

describe('reload', () => {
  it('turns the dashboard on and off, and a new token ends every session', async () => {
    const up = await startUpstream();
    const base = `clients:\n  web: \${CLIENT}\nroutes:\n  - name: api\n    prefix: /api\n    upstream: ${up.url}\n    auth: [web]\n`;
    const withDash = (token: string) => `server:\n  dashboard:\n    path: /_relay\n    token: ${token}\n${base}`;
    const relay = await startTestRelay(base, { env });
    const load = (text: string) => parseConfigText(text, 'reload.yaml', { env });
    try {
      expect((await fetch(`${relay.url}/_relay`)).status).toBe(404);
      await relay.relay.reload(load(withDash(ADMIN)));
      expect((await fetch(`${relay.url}/_relay`)).status).toBe(200);
      const cookie = await login(relay.url);
      expect((await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).status).toBe(200);
      await relay.relay.reload(load(withDash('another-admin-token-0000')));
      expect((await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).status).toBe(401);
      await relay.relay.reload(load(base));
      expect((await fetch(`${relay.url}/_relay`)).status).toBe(404);
      expect(relay.relay.state.intercept).toBeUndefined();
    } finally {
      await relay.close();
      await up.close();
    }
  });
});

describe('dashboard config', () => {
  const yaml = (dash: string) => `server:\n  dashboard:\n${dash}\nclients:\n  web: \${CLIENT}\nroutes: []\n`;
  const errorsOf = (text: string) => {
    try {
      parseConfigText(text, 'dash.yaml', { env });
    } catch (err) {
      if (err instanceof ConfigError) return err.issues.map((i) => i.message).join('\n');
      throw err;
    }
    return '';
  };

  it('refuses an admin token equal to a client token, a short token and a path of /', () => {
    expect(errorsOf(yaml('    path: /_relay\n    token: ${CLIENT}'))).toContain('the dashboard token must differ from every client token (it equals the token of client "web")');
    expect(errorsOf(yaml('    path: /_relay\n    token: short'))).toContain('at least 16 characters');
    expect(errorsOf(yaml('    path: /\n    token: ${ADMIN}'))).toMatch(/must be a path such as \/_relay|must not be "\/"/);
    expect(errorsOf(yaml('    path: /_relay\n    token: ${ADMIN}\n    listen: nope'))).toContain('must be host:port');
    expect(errorsOf(yaml('    path: /_relay\n    token: ${ADMIN}'))).toBe('');
    expect(errorsOf(yaml('    path: /_relay\n    token: ${ADMIN}').replace('routes: []', 'routes:\n  - prefix: /_relay/x\n    upstream: http://127.0.0.1:9\n    auth: none'))).toContain('lies under the dashboard path');
    expect(errorsOf(yaml('    path: /r\n    token: ${ADMIN}').replace('server:\n', 'server:\n  basePaths: ["/", "/r"]\n'))).toContain('base path "/r" lies under the dashboard path');
  });
});

describe('dashboard.listen and TLS', () => {
  it('serves the dashboard on its own listener and not on the main one', async () => {
    const up = await startUpstream();
    const relay = await startTestRelay(dashboardYaml(up.url, '    listen: 127.0.0.1:0'), { env });
    try {
      const url = relay.relay.dashboard!.url!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/_relay$/);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('Admin token');
      const origin = url.replace('/_relay', '');
      expect((await fetch(`${origin}/_relay/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: ADMIN }) })).status).toBe(200);
      expect((await fetch(`${origin}/v1/models`)).status).toBe(404);
      // On the main listener /_relay is an ordinary path of the `/` route again.
      const main = await fetch(`${relay.url}/_relay`, { headers: { 'x-proxy-token': CLIENT } });
      expect(main.status).toBe(200);
      expect(up.requests.map((r) => r.url)).toEqual(['/_relay']);
    } finally {
      await relay.close();
      await up.close();
    }
  });

  it('marks the cookie Secure over TLS', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-dash-tls-'));
    const up = await startUpstream();
    const relay = await startTestRelay(dashboardYaml(up.url, '  tls:\n    cert: cert.pem\n    key: key.pem\n    selfSigned: true\n    http2: false'), { env, dir });
    try {
      const cookie = await new Promise<string>((resolve, reject) => {
        const req = https.request(`${relay.url}/_relay/login`, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(String(res.headers['set-cookie']));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ token: ADMIN }));
      });
      expect(cookie).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    } finally {
      await relay.close();
      await up.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('over HTTP/2', () => {
  it('logs in, refuses an oversized login body without crashing, and streams events', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-dash-h2-'));
    const up = await startUpstream();
    const relay = await startTestRelay(dashboardYaml(up.url, '  tls:\n    cert: cert.pem\n    key: key.pem\n    selfSigned: true'), { env, dir });
    const session = http2.connect(relay.url, { rejectUnauthorized: false });
    const ask = (p: string, method: string, body?: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: http2.IncomingHttpHeaders; text: string }>((resolve, reject) => {
        const req = session.request({ ':path': p, ':method': method, ...headers });
        let text = '';
        let head: http2.IncomingHttpHeaders = {};
        req.setEncoding('utf8');
        req.on('response', (h) => {
          head = h;
          if (String(h['content-type']).startsWith('text/event-stream')) {
            req.once('data', (c: string) => {
              resolve({ status: Number(h[':status']), headers: h, text: c });
              req.close();
            });
          }
        });
        req.on('data', (c: string) => (text += c));
        req.on('end', () => resolve({ status: Number(head[':status']), headers: head, text }));
        req.on('error', reject);
        req.end(body);
      });
    try {
      const big = await ask('/_relay/login', 'POST', `token=${'x'.repeat(10_000)}`, { 'content-type': 'application/x-www-form-urlencoded' });
      expect(big.status).toBe(413);
      const ok = await ask('/_relay/login', 'POST', JSON.stringify({ token: ADMIN }), { 'content-type': 'application/json' });
      expect(ok.status).toBe(200);
      const cookie = String(ok.headers['set-cookie']).split(';')[0]!;
      expect(String(ok.headers['set-cookie'])).toContain('; Secure');
      const events = await ask('/_relay/events', 'GET', undefined, { cookie });
      expect(events.status).toBe(200);
      expect(events.text).toContain('event: snapshot');
      expect((await ask('/health', 'GET')).status).toBe(200);
    } finally {
      session.close();
      await relay.close();
      await up.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the bundled CLI', () => {
  it('serves the same page bytes as the sources (esbuild bundle of the CLI, child process)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ai-relay-dash-cli-'));
    const cfg = path.join(dir, 'relay.yaml');
    writeFileSync(cfg, `server:\n  host: 127.0.0.1\n  port: 0\n  dashboard:\n    path: /_relay\n    token: ${ADMIN}\nlog:\n  format: json\nroutes: []\n`);
    const child = await startCli(['serve', '--config', cfg]);
    try {
      const port = (await child.waitFor(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/, 10_000))[1];
      const base = `http://127.0.0.1:${port}/_relay`;
      await expectShippedAssets(base);
    } finally {
      child.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
