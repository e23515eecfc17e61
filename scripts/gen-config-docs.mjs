#!/usr/bin/env node
// Writes docs/config.md from the zod schema. Node 20 cannot run TypeScript, so the renderer
// (scripts/gen-config-docs.ts) and the schema are bundled with esbuild (a devDependency) into a
// temporary module first. `--check` exits 1 when docs/config.md is stale instead of writing it.
import { build } from 'esbuild';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const target = path.join(root, 'docs', 'config.md');
const tmp = mkdtempSync(path.join(root, 'node_modules', '.cache-gen-config-docs-'));
try {
  const outfile = path.join(tmp, 'gen.mjs');
  await build({
    stdin: {
      contents: "export { renderConfigDocs } from './scripts/gen-config-docs.ts';\nexport { configSchema } from './src/config/schema.ts';\n",
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile,
    logLevel: 'error',
  });
  const { renderConfigDocs, configSchema } = await import(pathToFileURL(outfile).href);
  const text = renderConfigDocs(configSchema);
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(target, 'utf8');
    } catch {}
    if (current !== text) {
      console.error('docs/config.md is stale: run `npm run docs:config`');
      process.exitCode = 1;
    }
  } else {
    writeFileSync(target, text);
    console.log(`wrote ${path.relative(root, target)}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
