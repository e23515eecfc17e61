#!/usr/bin/env node
/**
 * Part of `npm run build` (after tsc): bundles the CLI for the npm bin into dist/bundle/.
 * Why: `node bin/ai-relay.js serve` from dist/cli/bin.js resolves and reads ~700 files
 * (our ~100 modules plus zod's, yaml's, undici's…) before the first request; one ESM file cuts
 * most of that cold-start cost (docs/benchmarks.md, "Cold start"). bin/ai-relay.js prefers the
 * bundle and falls back to dist/cli/bin.js when it is missing.
 *
 * Code splitting keeps lazy parts lazy: every `await import()` (ioredis, socks, prom-client,
 * @peculiar/x509, the commands) becomes its own chunk, loaded only when a config or command
 * needs it.
 *
 * sharp: its JavaScript (plus semver, detect-libc, @img/colour: ~70 modules) is bundled into a
 * lazy chunk; its native addon and libvips are still required from node_modules at run time.
 * The bundled JS is used only when the installed sharp has the version it was bundled from (the
 * addon must match its JS); otherwise, or if the bundled copy cannot load its addon, the
 * installed `sharp` package is imported as before.
 *
 * `undici`'s index requires all of undici (fetch, WebSocket, cache, mocks: ~1.2 MB, ~85 ms to
 * evaluate); the relay uses only Pool, buildConnector and errors. Inside the bundle `undici`
 * resolves to a module exporting just those (plus the request API installed on
 * Dispatcher.prototype, as undici's index does). Importing any other undici value in src/ fails
 * this build ("No matching export"), so the shim cannot silently drift.
 *
 * Usage: node scripts/build-cli-bundle.mjs [--outdir DIR] [--external-packages]
 * (--external-packages leaves every npm package to node_modules: test/startup uses it to see
 * which packages each command really loads)
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({ options: { outdir: { type: 'string', default: 'dist/bundle' }, 'external-packages': { type: 'boolean', default: false } } });
const outdir = path.resolve(root, opts.outdir);

const esbuild = await import('esbuild');
const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
fs.rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli/bin.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  ...(opts['external-packages'] ? { packages: 'external' } : { external: ['@img/sharp-*'] }),
  // CommonJS packages inside an ESM bundle still call require() for Node built-ins.
  banner: { js: "import { createRequire as __aiRelayCreateRequire } from 'node:module'; const require = __aiRelayCreateRequire(import.meta.url);" },
  // src/version.ts reads ../package.json relative to itself, which is not where the bundle lives.
  define: { __AI_RELAY_VERSION__: JSON.stringify(version) },
  plugins: opts['external-packages'] ? [] : [undiciCore(), sharpChoice()],
  legalComments: 'none',
  logLevel: 'warning',
});

function undiciCore() {
  const shim = `
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import api from 'undici/lib/api/index.js';
import Pool from 'undici/lib/dispatcher/pool.js';
import buildConnector from 'undici/lib/core/connect.js';
import errors from 'undici/lib/core/errors.js';
Object.assign(Dispatcher.prototype, api);
export { Dispatcher, Pool, buildConnector, errors };
`;
  return {
    name: 'undici-core',
    setup(build) {
      build.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici-core', namespace: 'undici-core' }));
      build.onLoad({ filter: /.*/, namespace: 'undici-core' }, () => ({ contents: shim, loader: 'js', resolveDir: root }));
    },
  };
}

function sharpChoice() {
  const require = createRequire(path.join(root, 'package.json'));
  const sharpRoot = path.resolve(path.dirname(require.resolve('sharp')), '..');
  const version = JSON.parse(fs.readFileSync(path.join(sharpRoot, 'package.json'), 'utf8')).version;
  const shim = `
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

function installedVersion() {
  try {
    const main = createRequire(import.meta.url).resolve('sharp');
    return JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

let m;
if (installedVersion() === ${JSON.stringify(version)}) {
  try {
    m = await import(${JSON.stringify(path.join(sharpRoot, 'dist', 'index.mjs'))});
  } catch {
    // e.g. the addon is nested where only the installed sharp finds it: use that one.
  }
}
m ??= await import('sharp');
export default m.default;
`;
  return {
    name: 'sharp-choice',
    setup(build) {
      build.onResolve({ filter: /^sharp$/ }, (args) =>
        args.namespace === 'sharp-choice' ? { path: 'sharp', external: true } : { path: 'sharp-choice', namespace: 'sharp-choice' },
      );
      build.onLoad({ filter: /.*/, namespace: 'sharp-choice' }, () => ({ contents: shim, loader: 'js', resolveDir: root }));
    },
  };
}
