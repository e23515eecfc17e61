#!/usr/bin/env node
/**
 * Part of `npm run build` (after tsc): bundles the CLI for the npm bin into dist/bundle/, with the
 * shared configuration of scripts/bundle.mjs (the single executable uses the same one).
 * Why a bundle: `node bin/ai-relay.js serve` from dist/cli/bin.js resolves and reads ~700 files
 * (our ~100 modules plus zod's, yaml's, undici's…) before the first request; one ESM file cuts
 * most of that cold-start cost (docs/benchmarks.md, "Cold start"). bin/ai-relay.js prefers the
 * bundle and falls back to dist/cli/bin.js when it is missing.
 *
 * Also writes dist/bundle/packages.json (output file → npm packages inside it, from esbuild's
 * metafile), so test/startup can tell which packages a command loaded from the shipped bundle,
 * and dist/.build-stamp (scripts/build-stamp.mjs).
 *
 * Usage: node scripts/build-cli-bundle.mjs
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleOptions, packagesByOutput, root } from './bundle.mjs';
import { writeStamp } from './build-stamp.mjs';

const outdir = path.join(root, 'dist', 'bundle');
const esbuild = await import('esbuild');
fs.rmSync(outdir, { recursive: true, force: true });
const result = await esbuild.build(bundleOptions('npm', { outdir }));
fs.writeFileSync(path.join(outdir, 'packages.json'), `${JSON.stringify(packagesByOutput(result.metafile, outdir), null, 1)}\n`);
writeStamp();
