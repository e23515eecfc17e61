/**
 * The page across a relay restart: while the relay is away it says so and retries with growing
 * delays (1 s, 2 s, 4 s…); when a relay answers again the old session is gone (sessions and
 * counters live in the process), so the page returns to the login form by itself.
 */
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { startRelay, type Relay } from '../../src/relay.js';
import { checkChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { ADMIN } from './helpers.js';

const tool = checkChromium();
const YAML = 'server:\n  dashboard:\n    path: /_relay\n    token: ${ADMIN}\nroutes: []\n';

it.runIf(tool.mustFail)('chromium is installed (required under CI=true)', () => {
  expect.fail(tool.reason);
});

function start(port: number): Promise<Relay> {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  return startRelay(parseConfigText(YAML, 'restart.yaml', { env: { ADMIN } }), { host: '127.0.0.1', port, env: { ADMIN }, logDestination: sink });
}

describe.skipIf(!tool.available)('the page across a relay restart', () => {
  let browser: TestBrowser | undefined;
  const relays: Relay[] = [];
  afterAll(async () => {
    await browser?.close();
    for (const r of relays) await r.close(500);
  });

  it('shows the outage, backs off, and lands on the login form of the new process', { timeout: 30_000 }, async () => {
    const first = await start(0);
    relays.push(first);
    const port = first.address.port;
    browser = await launchBrowser();
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${first.url}/_relay`);
    await page.getByLabel('Admin token').fill(ADMIN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#conn.live').waitFor({ timeout: 5000 });

    await first.close(200);
    const conn = page.locator('#conn');
    await expect.poll(() => conn.innerText(), { timeout: 5000 }).toMatch(/connection lost \(reconnecting in 1 s\)/);
    await expect.poll(() => conn.innerText(), { timeout: 5000 }).toMatch(/reconnecting in 2 s/);
    await expect.poll(() => conn.innerText(), { timeout: 8000 }).toMatch(/reconnecting in 4 s/);

    relays.push(await start(port));
    await page.getByLabel('Admin token').waitFor({ timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  });
});
