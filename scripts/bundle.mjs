/**
 * The ONE esbuild configuration behind everything that ships a bundle:
 *
 *   - the npm bin's bundle, dist/bundle/ (scripts/build-cli-bundle.mjs, part of `npm run build`);
 *   - the single executable's script (scripts/build-binary.mjs);
 *   - the tests, which run bin/ai-relay.js after the real `npm run build` (test/global-build.ts)
 *     and never bundle the sources a way of their own.
 *
 * Issue #15 is why: the tests used to bundle with every npm package external, so a lazily
 * imported CommonJS package (@peculiar/x509, ioredis, socks) worked in the tests and broke in the
 * npm bundle. Both shipped targets take their entry, defines, externals and plugins from here;
 * only what must differ (ESM + code splitting for npm; one CommonJS file with sharp's addon
 * embedded for the single executable) is chosen by `target`.
 *
 * What is kept out of the bundle, and why:
 *   - `@img/sharp-*` (npm target): sharp's native addon and libvips are files on disk that sharp's
 *     JS locates relative to itself; they are required from node_modules at run time.
 *   - nothing else. @peculiar/x509 bundles safely: tsyringe needs the Reflect metadata polyfill
 *     evaluated first, which src/tls/x509-loader.ts guarantees by importing reflect-metadata
 *     before it; what broke was reading named exports from a lazily imported CommonJS chunk,
 *     which src/util/cjs-interop.ts now reads through `default` in every build.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));

/** Packages left to node_modules at run time, per target (see the header). */
export const EXTERNAL = { npm: ['@img/sharp-*'], sea: [] };

export function packageVersion() {
  return JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
}

/**
 * esbuild options for a target.
 * @param {'npm' | 'sea'} target
 * @param {{ outdir?: string, outfile?: string, entry?: string, nativeManifest?: object }} o
 */
export function bundleOptions(target, o) {
  const common = {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    legalComments: 'none',
    logLevel: 'warning',
    external: EXTERNAL[target],
  };
  // src/version.ts reads ../package.json relative to itself, which is not where a bundle lives.
  const version = JSON.stringify(packageVersion());
  if (target === 'npm') {
    return {
      ...common,
      entryPoints: { cli: o.entry ?? 'src/cli/bin.ts' },
      outdir: o.outdir,
      outExtension: { '.js': '.mjs' },
      // Code splitting keeps lazy parts lazy: every `await import()` (ioredis, socks,
      // prom-client, @peculiar/x509, the commands) becomes a chunk loaded only when needed.
      chunkNames: 'chunks/[name]-[hash]',
      splitting: true,
      format: 'esm',
      // CommonJS packages inside an ESM bundle still call require() for Node built-ins.
      banner: { js: "import { createRequire as __aiRelayCreateRequire } from 'node:module'; const require = __aiRelayCreateRequire(import.meta.url);" },
      define: { __AI_RELAY_VERSION__: version },
      metafile: true,
      plugins: [undiciCore(), sharpChoice()],
    };
  }
  return {
    ...common,
    entryPoints: [o.entry ?? 'src/cli/sea-entry.ts'],
    outfile: o.outfile,
    // A SEA main script may only require() built-in modules: one CommonJS file.
    format: 'cjs',
    // ESM sources that use import.meta.url keep working from the CommonJS bundle.
    banner: { js: 'var __ai_relay_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    define: {
      'import.meta.url': '__ai_relay_import_meta_url',
      __AI_RELAY_NATIVE__: JSON.stringify(o.nativeManifest),
      __AI_RELAY_VERSION__: version,
    },
    plugins: [undiciCore(), sharpInSea()],
  };
}

/**
 * npm package names each output file of a build contains, from esbuild's metafile: lets a test
 * say which packages a command really loaded from the shipped bundle (test/startup).
 */
export function packagesByOutput(metafile, outdir) {
  const map = {};
  for (const [file, out] of Object.entries(metafile.outputs)) {
    const names = new Set();
    for (const input of Object.keys(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (m) names.add(m[1]);
    }
    map[path.relative(outdir, path.resolve(root, file))] = [...names].sort();
  }
  return map;
}

/**
 * `undici`'s index requires all of undici (fetch, WebSocket, cache, mocks: ~1.2 MB, ~85 ms to
 * evaluate); the relay uses only Pool, buildConnector and errors. Inside a bundle `undici`
 * resolves to a module exporting just those (plus the request API installed on
 * Dispatcher.prototype, as undici's index does). Importing any other undici value in src/ fails
 * the build ("No matching export"), so the shim cannot silently drift.
 */
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

/**
 * npm target: sharp's JavaScript (plus semver, detect-libc, @img/colour: ~70 modules) is bundled
 * into a lazy chunk; its addon and libvips still come from node_modules. The bundled JS is used
 * only when the installed sharp has the version it was bundled from (the addon must match its
 * JS); otherwise, or if the bundled copy cannot load its addon, the installed `sharp` is imported.
 */
function sharpChoice() {
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

/**
 * Single-executable target: sharp ships ESM that calls createRequire(import.meta.url) and CJS
 * that tries template-literal require()s of files that do not exist in a SEA. Use the CJS build,
 * neutralise those requires (each sits in a try/catch and falls through), and send the linux-x64
 * addon to our loader (src/native/embedded-sharp.ts), which unpacks it from the binary.
 */
function sharpInSea() {
  const loader = path.join(root, 'src/native/embedded-sharp.ts');
  return {
    name: 'sharp-in-sea',
    setup(build) {
      build.onResolve({ filter: /^sharp$/ }, () => ({ path: require.resolve('sharp') }) /* the "require" condition: dist/index.cjs */);
      build.onResolve({ filter: /^@img\/sharp-[^/]+\/sharp\.node$/ }, (args) =>
        args.path === '@img/sharp-linux-x64/sharp.node'
          ? { path: 'sharp-addon', namespace: 'sea-native' }
          : { path: args.path, namespace: 'sea-missing' },
      );
      build.onLoad({ filter: /.*/, namespace: 'sea-native' }, () => ({
        contents: `module.exports = require(${JSON.stringify(loader)}).loadSharpAddon();`,
        loader: 'js',
        resolveDir: root,
      }));
      build.onLoad({ filter: /.*/, namespace: 'sea-missing' }, (args) => ({
        contents: `var e = new Error(${JSON.stringify(`${args.path} is not embedded in this binary`)}); e.code = 'MODULE_NOT_FOUND'; throw e;`,
        loader: 'js',
      }));
      build.onLoad({ filter: /[\\/]sharp[\\/]dist[\\/][a-z]+\.cjs$/ }, (args) => {
        const src = fs.readFileSync(args.path, 'utf8');
        const contents = src.replace(
          /require\(`[^`]*`\)/g,
          `(() => { var e = new Error('not embedded'); e.code = 'MODULE_NOT_FOUND'; throw e; })()`,
        );
        return { contents, loader: 'js' };
      });
    },
  };
}
