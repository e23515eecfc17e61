/**
 * The single executable serves the very bytes of src/dashboard/assets.generated.ts (the page is
 * compiled into that module once; tsc, the npm bundle and the SEA all import it). Run alone in an
 * empty directory with an empty environment, like test/binary. Slow (builds the ~100 MB binary
 * when stale), so only with AI_RELAY_BINARY_TEST=1 (set by .ci/run).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BINARY, ensureBinary } from '../binary/build.js';
import { ADMIN, expectShippedAssets } from './helpers.js';

const ENABLED = process.env.AI_RELAY_BINARY_TEST === '1';

describe.skipIf(!ENABLED)('the dashboard in the single executable', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-relay-dash-bin-'));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('serves the same page bytes as the sources', { timeout: 240_000 }, async () => {
    ensureBinary(200_000);
    const bin = path.join(work, 'ai-relay');
    fs.copyFileSync(BINARY, bin);
    fs.chmodSync(bin, 0o755);
    fs.writeFileSync(path.join(work, 'relay.yaml'), `server:\n  host: 127.0.0.1\n  port: 0\n  dashboard:\n    path: /_relay\n    token: ${ADMIN}\nlog:\n  format: json\nroutes: []\n`);
    fs.mkdirSync(path.join(work, 'empty'));
    const child = spawn(bin, ['serve', '--config', 'relay.yaml'], { cwd: work, env: { HOME: work, PATH: path.join(work, 'empty') }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      const port = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no listen line: ${out}`)), 20_000);
        child.stdout!.on('data', (c) => {
          out += c;
          const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out);
          if (m) {
            clearTimeout(t);
            resolve(m[1]!);
          }
        });
      });
      const base = `http://127.0.0.1:${port}/_relay`;
      await expectShippedAssets(base);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
