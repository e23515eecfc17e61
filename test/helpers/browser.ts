/**
 * A real headless Chromium (Debian package `chromium`) driven by playwright-core, plus tiny
 * "site" servers that give a page a real http://127.0.0.1:PORT origin. The point is to let the
 * browser — not our reading of the Fetch spec — decide what CORS lets through.
 *
 * Availability: outside CI a missing chromium skips the browser tests with a printed reason;
 * under CI=true it fails (`.ci/run` installs it).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { ToolCheck } from './redis.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function checkChromium(): ToolCheck {
  const available = existsSync(CHROMIUM);
  const reason = available ? '' : `${CHROMIUM} not found (apt-get install chromium): browser tests skipped`;
  if (!available && process.env.CI !== 'true') console.warn(`[skip] ${reason}`);
  return { available, reason, mustFail: !available && process.env.CI === 'true' };
}

export interface TestBrowser {
  context: BrowserContext;
  /** A fresh tab showing `siteUrl` (so scripts in it run with that origin). */
  open(siteUrl: string): Promise<Page>;
  close(): Promise<void>;
}

/** Chromium with a fresh, throwaway profile (no cached preflights or HSTS from earlier runs). */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'ai-relay-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      timeout: 15_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async open(siteUrl) {
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(siteUrl);
      return page;
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Site {
  /** The origin, e.g. http://127.0.0.1:41234 */
  origin: string;
  close(): Promise<void>;
}

/** A static page on its own port: a distinct origin for the browser. */
export async function startSite(title = 'ai-relay test site'): Promise<Site> {
  const html = `<!doctype html><meta charset="utf-8"><title>${title}</title><body>${title}</body>`;
  const server = http.createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
