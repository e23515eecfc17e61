/**
 * The single executable for tests: reuse dist/ai-relay-linux-x64 when it is newer than every
 * input (sources, build script, lockfile), otherwise run `npm run build:binary`'s script.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BINARY = path.join(ROOT, 'dist', 'ai-relay-linux-x64');

export function ensureBinary(timeoutMs: number): { built: boolean; seconds: number } {
  if (isFresh()) return { built: false, seconds: 0 };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-binary.mjs')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  if (r.status !== 0) throw new Error(`build:binary failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  return { built: true, seconds: (performance.now() - t0) / 1000 };
}

function isFresh(): boolean {
  let built: number;
  try {
    built = fs.statSync(BINARY).mtimeMs;
  } catch {
    return false;
  }
  const inputs = [path.join(ROOT, 'scripts', 'build-binary.mjs'), path.join(ROOT, 'scripts', 'bundle.mjs'), path.join(ROOT, 'package-lock.json'), path.join(ROOT, 'package.json')];
  return newest([...inputs, path.join(ROOT, 'src')]) < built;
}

function newest(paths: string[]): number {
  let max = 0;
  for (const p of paths) {
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      max = Math.max(max, newest(fs.readdirSync(p).map((f) => path.join(p, f))));
    } else {
      max = Math.max(max, st.mtimeMs);
    }
  }
  return max;
}
