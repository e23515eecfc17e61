/**
 * The dashboard page in a real Chromium (playwright-core + Debian chromium): log in through the
 * form, watch traffic arrive without a reload, render hostile text as text, fit 375 px, work from
 * the keyboard, and pass axe with no serious or critical violation — with zero console errors,
 * page errors and CSP violations throughout.
 *
 * AI_RELAY_SCREENSHOT=docs/dashboard.png also saves a screenshot of the page with this real
 * traffic (scripts/dashboard-screenshot.mjs sets it).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { ADMIN, CLIENT } from './helpers.js';

const tool = checkChromium();
const HOSTILE = '<img src=x onerror=alert(1)><b>bold</b>';

it.runIf(tool.mustFail)('chromium is installed (required under CI=true)', () => {
  expect.fail(tool.reason);
});

describe.skipIf(!tool.available)('the dashboard page in Chromium', () => {
  let up: FakeUpstream;
  let relay: TestRelay;
  let browser: TestBrowser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    up = await startUpstream((req, res) => {
      const slow = req.url?.includes('slow') ? 120 : 5;
      setTimeout(() => {
        res.writeHead(req.url?.includes('missing') ? 404 : 200, { 'content-type': 'application/json' });
        // Chat answers report usage as OpenAI does, so tokens and budgets have figures to show.
        if (req.url?.includes('/chat/completions')) res.end(JSON.stringify({ object: 'chat.completion', choices: [], usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } }));
        else res.end('{"ok":true}');
      }, slow);
    });
    relay = await startTestRelay(
      `
server:
  dashboard:
    path: /_relay
    token: \${ADMIN}
clients:
  web: \${CLIENT}
  batch: \${CLIENT2}
routes:
  - name: openai
    prefix: /openai
    upstream: ${up.url}
    auth: [web, batch]
    keys:
      values: ["\${K1}", "\${K2}"]
    budget:
      - { by: client, tokens: 20k, per: day }
  - name: gemini
    prefix: /gemini
    upstream: ${up.url}
    auth: [web]
    rateLimit:
      requests: 5
      per: 1h
  - name: api
    prefix: /
    upstream: ${up.url}
    auth: none
`,
      { env: { ADMIN, CLIENT, CLIENT2: 'client-two-token-77', K1: 'sk-one-aaaaaaaa', K2: 'sk-two-bbbbbbbb' } },
    );
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    // Strings, not functions: page code is typed without the DOM library in this project.
    await page.addInitScript("document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))");
  });

  afterAll(async () => {
    await browser?.close();
    await relay?.close();
    await up?.close();
  });

  const traffic = async (n: number, tag: string) => {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      calls.push(fetch(`${relay.url}/openai/v1/chat/completions/${tag}`, { method: 'POST', headers: { 'x-proxy-token': CLIENT }, body: '{}' }).then((r) => r.text()));
      if (i % 3 === 0) calls.push(fetch(`${relay.url}/gemini/v1beta/models/${tag}`, { headers: { 'x-proxy-token': CLIENT } }).then((r) => r.text()));
      if (i % 5 === 0) calls.push(fetch(`${relay.url}/v1/missing/${tag}`).then((r) => r.text()));
      if (i % 7 === 0) calls.push(fetch(`${relay.url}/openai/v1/slow/${tag}`, { headers: { 'x-proxy-token': 'client-two-token-77' } }).then((r) => r.text()));
    }
    await Promise.all(calls);
  };

  it('logs in through the form and shows traffic within 3 s, without a reload', async () => {
    await page.goto(`${relay.url}/_relay`);
    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${relay.url}/_relay`);
    await page.locator('#conn.live').waitFor({ timeout: 5000 });
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    await traffic(12, 'first-batch');
    await page.locator('#tail td', { hasText: '/openai/v1/chat/completions/first-batch' }).first().waitFor({ timeout: 3000 });
    await page.locator('#routes td', { hasText: 'openai' }).waitFor({ timeout: 3000 });
    // 12 calls plus 2 slow ones; the first update may have caught the burst half-way.
    await expect.poll(() => page.locator('#routes tr', { hasText: 'openai' }).innerText(), { timeout: 3000 }).toMatch(/^openai\s+[\d.]+\s+14\s+14\s/);
    expect(navigations).toEqual([]);
    expect(await page.locator('#status').innerText()).toMatch(/Uptime[\s\S]*Version[\s\S]*In flight[\s\S]*Open streams[\s\S]*Ready\s+ready/);
    expect(await page.locator('#pools').innerText()).toMatch(/#0 [0-9a-f]{4}\s+serving/);
    expect(await page.locator('body').innerText()).toContain('Counters reset at restart');
    expect(await page.locator('#cache').innerText()).toContain('not configured');
  });

  it('renders a path containing HTML as text', async () => {
    // Raw socket: fetch would percent-encode the angle brackets.
    const { port } = new URL(relay.url);
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => sock.write(`GET /v1/${HOSTILE.replaceAll(' ', '%20')} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
      sock.on('data', () => {});
      sock.on('close', () => resolve());
      sock.on('error', reject);
    });
    const expected = `/v1/${HOSTILE.replaceAll(' ', '%20')}`;
    await page.locator('#tail td', { hasText: expected }).first().waitFor({ timeout: 3000 });
    expect(await page.locator('#tail img, #tail b').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('filters and pauses from the keyboard alone', async () => {
    const focusById = async (id: string) => {
      for (let i = 0; i < 40; i++) {
        if ((await page.evaluate('document.activeElement && document.activeElement.id')) === id) return;
        await page.keyboard.press('Tab');
      }
      throw new Error(`Tab never reached #${id}`);
    };
    await page.evaluate('document.activeElement && document.activeElement.blur()');
    await focusById('f-client');
    await page.keyboard.type('batch');
    await expect.poll(async () => page.locator('#tail tbody tr').count()).toBeGreaterThan(0);
    const clients = await page.locator('#tail tbody tr td:nth-child(8)').allInnerTexts();
    expect(new Set(clients)).toEqual(new Set(['batch']));
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');

    await focusById('pause');
    await page.keyboard.press('Space');
    expect(await page.locator('#pause').getAttribute('aria-pressed')).toBe('true');
    await traffic(3, 'while-paused');
    await new Promise((r) => setTimeout(r, 2200));
    expect(await page.locator('#tail td', { hasText: 'while-paused' }).count()).toBe(0);
    expect(await page.locator('#tail-note').innerText()).toMatch(/^Paused\./);
    await page.keyboard.press('Enter');
    expect(await page.locator('#pause').getAttribute('aria-pressed')).toBe('false');
    await page.locator('#tail td', { hasText: 'while-paused' }).first().waitFor({ timeout: 3000 });
  });

  it('fits 375 px without horizontal scrolling, in light and dark', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width: 375, height: 800 });
      await page.waitForTimeout(200);
      const widths = (await page.evaluate('({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: window.innerWidth })')) as { doc: number; body: number; view: number };
      expect(widths.doc, scheme).toBeLessThanOrEqual(widths.view);
      expect(widths.body, scheme).toBeLessThanOrEqual(widths.view);
    }
    const bg = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(bg).toBe('rgb(17, 20, 24)'); // the dark scheme applied
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('has no serious or critical accessibility violations (axe-core), in light and dark', async () => {
    const require = createRequire(import.meta.url);
    const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    // page.evaluate runs through the DevTools protocol, which the page's CSP does not govern.
    await page.evaluate(axeSource);
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const violations = (await page.evaluate(
        "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))",
      )) as { id: string; impact: string; nodes: string[] }[];
      if (process.env.AXE_VERBOSE) console.log(scheme, JSON.stringify(violations));
      expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'), scheme).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('returns to the login form when the session ends elsewhere (logout ends the feed)', async () => {
    const dash = await browser.context.newPage();
    dash.on('console', (m) => {
      if (m.type() === 'error') problems.push(`second tab console: ${m.text()}`);
    });
    await dash.goto(`${relay.url}/_relay`);
    await dash.locator('#conn.live').waitFor({ timeout: 5000 });
    // Log out through the first tab's form: the session both tabs share ends.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin token').waitFor();
    await dash.getByLabel('Admin token').waitFor({ timeout: 8000 });
    expect(await dash.locator('#tail').count()).toBe(0);
    await dash.close();
    // Log back in for the remaining checks.
    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#conn.live').waitFor({ timeout: 5000 });
  });

  it('saw no console error, page error or CSP violation', async () => {
    const shot = process.env.AI_RELAY_SCREENSHOT;
    if (shot) {
      await traffic(20, 'screenshot');
      await page.setViewportSize({ width: 1280, height: 1000 });
      await page.waitForTimeout(1500);
      await page.screenshot({ path: shot, fullPage: false });
    }
    expect(problems).toEqual([]);
  });
});
