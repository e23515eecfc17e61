#!/usr/bin/env node
// Thin launcher. `npm run build` (run by `npm ci`/`npm install` via `prepare`) writes both the
// tsc output (dist/cli/bin.js, ~100 modules) and an esbuild bundle of the same sources
// (dist/bundle/cli.mjs, scripts/build-cli-bundle.mjs). The bundle starts several times faster
// (one file instead of hundreds to resolve and read), so it is preferred when present.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/cli.mjs', import.meta.url);
const { main } = await import(existsSync(bundle) ? bundle.href : '../dist/cli/bin.js');

main(process.argv).then((code) => {
  if (typeof code === 'number') process.exitCode = code;
});
