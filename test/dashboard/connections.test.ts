/**
 * Browsers open at most six HTTP/1.1 connections per host (shared by every tab). With six app
 * streams open to the relay, the dashboard must not break them, and must say why it waits when
 * it cannot get a connection itself (spec §14; dashboard anchors "7+ tabs / concurrent app
 * streams").
 *
 * Chromium keeps separate socket pools for requests with and without credentials: SDK-style
 * streams (no cookies) leave the dashboard its own connections, while credentialed streams
 * (`credentials: 'include'`) share the pool with it. Both cases are exercised.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkChromium, launchBrowser, startSite, type Site, type TestBrowser } from '../helpers/browser.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { waitFor } from '../helpers/sse.js';
import { startStreamingUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { ADMIN } from './helpers.js';

const tool = checkChromium();

it.runIf(tool.mustFail)('chromium is installed (required under CI=true)', () => {
  expect.fail(tool.reason);
});

describe.skipIf(!tool.available)('six app streams and the dashboard on one HTTP/1.1 origin', () => {
  let site: Site;
  let up: FakeUpstream;
  let relay: TestRelay;
  let browser: TestBrowser;
  const problems: string[] = [];

  beforeAll(async () => {
    site = await startSite('app');
    up = await startStreamingUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const t = setInterval(() => res.write(`data: ${Date.now()}\n\n`), 200);
      res.on('close', () => clearInterval(t));
    });
    relay = await startTestRelay(
      `
server:
  dashboard:
    path: /_relay
    token: \${ADMIN}
routes:
  - name: app
    prefix: /api
    upstream: ${up.url}
    auth: none
    cors:
      origins: ["${site.origin}"]
      credentials: true
`,
      { env: { ADMIN } },
    );
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await relay?.close();
    await up?.close();
    await site?.close();
  });

  /** Opens `n` streaming fetches from the app page; window.counts[i] counts chunks of stream i. */
  async function openAppStreams(credentials: 'omit' | 'include'): Promise<Page> {
    const app = await browser.open(site.origin);
    app.on('pageerror', (e) => problems.push(`app: ${e.message}`));
    await app.evaluate(
      `window.counts = [0,0,0,0,0,0]; window.aborts = [];
       for (let i = 0; i < 6; i++) {
         const ac = new AbortController(); window.aborts.push(ac);
         fetch('${relay.url}/api/stream/' + i, { credentials: '${credentials}', signal: ac.signal })
           .then(async (r) => { const rd = r.body.getReader(); for (;;) { const { done } = await rd.read(); if (done) break; window.counts[i]++; } })
           .catch(() => {});
       }; 0`,
    );
    return app;
  }

  const counts = async (app: Page) => (await app.evaluate('window.counts')) as number[];

  async function openDashboard(): Promise<Page> {
    const page = await browser.context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`dashboard console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`dashboard: ${e.message}`));
    const r = await page.request.post(`${relay.url}/_relay/login`, { data: { token: ADMIN }, headers: { 'content-type': 'application/json' } });
    expect(r.status()).toBe(200);
    await page.goto(`${relay.url}/_relay`);
    await page.locator('#conn.live').waitFor({ timeout: 5000 });
    return page;
  }

  it('SDK-style streams (no cookies): the app streams and the dashboard both keep working', async () => {
    const app = await openAppStreams('omit');
    await expect.poll(async () => Math.min(...(await counts(app))), { timeout: 5000 }).toBeGreaterThan(2);
    const dash = await openDashboard();
    await expect.poll(() => dash.locator('#status').innerText(), { timeout: 4000 }).toMatch(/Open streams\s+6/);
    const before = await counts(app);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await counts(app);
    after.forEach((n, i) => expect(n, `app stream ${i}`).toBeGreaterThan(before[i]!));
    await app.close();
    await dash.close();
  });

  it('credentialed streams holding all six connections: the dashboard says why it waits, then connects', async () => {
    const dash = await openDashboard();
    // Hide the tab: the dashboard closes its stream (and frees its connection).
    await dash.evaluate("Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }); document.dispatchEvent(new Event('visibilitychange')); 0");
    await waitFor(() => relay.relay.dashboard!.hub.size === 0, 3000, 'the hidden tab to close its stream');
    expect(await dash.locator('#conn').innerText()).toContain('paused while the tab is hidden');

    const app = await openAppStreams('include');
    await expect.poll(async () => Math.min(...(await counts(app))), { timeout: 5000 }).toBeGreaterThan(2);

    // Shown again: it reconnects, cannot get a connection, and explains.
    await dash.evaluate("Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true }); document.dispatchEvent(new Event('visibilitychange')); 0");
    const banner = dash.locator('#waiting');
    await banner.waitFor({ state: 'visible', timeout: 7000 });
    expect(await banner.innerText()).toContain('six HTTP/1.1 connections per host');
    const flowing = await counts(app);
    await new Promise((r) => setTimeout(r, 600));
    (await counts(app)).forEach((n, i) => expect(n, `app stream ${i} kept flowing`).toBeGreaterThan(flowing[i]!));

    // One app stream ends: the dashboard gets the connection and goes live.
    await app.evaluate('window.aborts[5].abort(); 0');
    await dash.locator('#conn.live').waitFor({ timeout: 8000 });
    expect(await banner.isHidden()).toBe(true);
    await app.close();
    await dash.close();
    expect(problems).toEqual([]);
  });
});
