/**
 * The README's commands work from every artifact a user can run (issue #15): the npm bin runs
 * them in the main phase (test/docs/readme-commands.test.ts); this runs the same file once more
 * against the tsc output and once against the single executable, through the CLI helper's
 * AI_RELAY_CLI switch. Only with AI_RELAY_BINARY_TEST=1 (set by .ci/run), like the other binary
 * tests.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BINARY, ROOT, ensureBinary } from './build.js';

const ENABLED = process.env.AI_RELAY_BINARY_TEST === '1';

function runReadmeTests(artifact: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', 'test/docs/readme-commands.test.ts'], {
    cwd: ROOT,
    env: { ...process.env, AI_RELAY_CLI: artifact, NO_COLOR: '1', FORCE_COLOR: '0' },
    encoding: 'utf8',
    timeout: 170_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!ENABLED)('README commands from the other artifacts', () => {
  it('the tsc output (dist/cli/bin.js)', () => {
    const r = runReadmeTests('tsc');
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Tests +\d+ passed/);
  }, 180_000);

  it('the single executable', () => {
    ensureBinary(240_000);
    const r = runReadmeTests(path.relative(ROOT, BINARY));
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Tests +\d+ passed/);
  }, 420_000);
});
