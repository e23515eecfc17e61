/**
 * sharp's native addon inside the single executable. The SEA carries the addon and libvips as
 * assets; they are unpacked to a versioned cache dir laid out like node_modules/@img/… (the
 * addon's RPATH is `$ORIGIN/../../sharp-libvips-linux-x64/lib`) and loaded with process.dlopen.
 * The bundled sharp JS reaches this through the build's esbuild plugin, which maps
 * `@img/sharp-linux-x64/sharp.node` here.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as sea from 'node:sea';
import { nativeDir, type Env } from './cache-dir.js';
import { extractAssets } from './extract.js';
import { embeddedManifest, type NativeManifest } from './manifest.js';
import { isNoexec } from './noexec.js';

/** A clear, operator-facing reason why image transforms cannot run. */
export class NativeLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NativeLoadError';
  }
}

const FIX = 'Point AI_RELAY_CACHE_DIR at a writable directory on a filesystem that allows executable code (for example AI_RELAY_CACHE_DIR=/var/cache/ai-relay).';

let loaded: unknown;

export function runningInSea(): boolean {
  try {
    return sea.isSea();
  } catch {
    return false;
  }
}

/** The addon's exports; unpacks on first use in a SEA, plain require from node_modules otherwise. */
export function loadSharpAddon(env: Env = process.env): unknown {
  if (loaded) return loaded;
  const manifest = embeddedManifest();
  if (!runningInSea() || !manifest) {
    // A bundle run by plain `node` (debugging the build): use the installed package.
    loaded = createRequire(path.join(process.cwd(), 'noop.js'))('@img/sharp-linux-x64/sharp.node');
    return loaded;
  }
  loaded = loadFromSea(manifest, env);
  return loaded;
}

function loadFromSea(manifest: NativeManifest, env: Env): unknown {
  const dir = nativeDir(manifest.id, env);
  if (isNoexec(dir) === true) {
    throw new NativeLoadError(`cannot load the image library (sharp/libvips): ${dir} is on a filesystem mounted noexec, where native code cannot run. ${FIX}`);
  }
  let addonPath: string;
  try {
    const { paths } = extractAssets(dir, manifest.assets, (key) => sea.getRawAsset(key) as ArrayBuffer);
    addonPath = paths[manifest.addon]!;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new NativeLoadError(`cannot unpack the image library (sharp/libvips) into ${dir}: ${e.code ?? ''} ${e.message}. ${FIX}`, { cause: err });
  }
  const mod = { exports: {} as unknown };
  try {
    process.dlopen(mod, addonPath);
  } catch (err) {
    const msg = (err as Error).message;
    const hint = /failed to map segment|operation not permitted/i.test(msg)
      ? `${dir} looks like a noexec filesystem. ${FIX}`
      : `If ${dir} is on a noexec filesystem: ${FIX}`;
    throw new NativeLoadError(`cannot load the image library (sharp/libvips) from ${addonPath}: ${msg}. ${hint}`, { cause: err });
  }
  return mod.exports;
}
