/**
 * A digest of everything `npm run build` reads, written to dist/.build-stamp by the build. The
 * test suite's global setup (test/global-build.ts) runs the real `npm run build` only when the
 * stamp differs, so `npm test` always exercises a dist/ built from the current sources, and the
 * second vitest phase of `npm test` (or a run right after `npm ci`) does not build twice.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { root } from './bundle.mjs';

const INPUTS = ['src', 'bin', 'scripts/bundle.mjs', 'scripts/build-cli-bundle.mjs', 'scripts/build-stamp.mjs', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];
export const STAMP = path.join(root, 'dist', '.build-stamp');

function* files(p) {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isDirectory()) {
    for (const e of fs.readdirSync(p).sort()) yield* files(path.join(p, e));
  } else yield p;
}

export function inputsDigest() {
  const h = createHash('sha256');
  for (const rel of INPUTS) {
    for (const f of files(path.join(root, rel))) {
      h.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
    }
  }
  return h.digest('hex');
}

export function stampIsCurrent() {
  try {
    return fs.readFileSync(STAMP, 'utf8').trim() === inputsDigest();
  } catch {
    return false;
  }
}

export function writeStamp() {
  fs.writeFileSync(STAMP, `${inputsDigest()}\n`);
}
