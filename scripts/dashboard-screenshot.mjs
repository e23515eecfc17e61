#!/usr/bin/env node
// Takes docs/dashboard.png from the browser test: a real relay, a fake upstream, real traffic
// and headless Chromium (test/dashboard/browser.test.ts saves the page when AI_RELAY_SCREENSHOT
// names a file). Needs /usr/bin/chromium (or CHROMIUM_PATH).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'docs', 'dashboard.png');
const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/dashboard/browser.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, AI_RELAY_SCREENSHOT: out },
});
if (r.status === 0) console.log(`wrote ${path.relative(root, out)}`);
process.exit(r.status ?? 1);
