/**
 * vitest global setup: the CLI tests run the artifact users run, `bin/ai-relay.js` after the real
 * `npm run build` (issue #15). The build runs once per test run, and only when dist/ is not
 * already built from the current sources (dist/.build-stamp, scripts/build-stamp.mjs): after
 * `npm ci` (whose `prepare` builds) and in the second phase of `npm test` nothing is rebuilt.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error — plain .mjs script without types
import { stampIsCurrent } from '../scripts/build-stamp.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default function setup(): void {
  if ((stampIsCurrent as () => boolean)()) return;
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status ?? r.signal}): the CLI tests need the built bin`);
}
