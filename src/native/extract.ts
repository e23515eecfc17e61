/**
 * Unpack embedded files to disk so the dynamic linker can map them. Files are reused when their
 * size matches the embedded asset (cheap, and catches the usual corruption: a truncated write);
 * otherwise written to a per-process temp name and renamed into place, so two relays starting at
 * once never see each other's half-written file.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface NativeAsset {
  /** SEA asset key. */
  key: string;
  /** Path relative to the native dir; mirrors node_modules/@img/… so the addon's RPATH finds libvips. */
  rel: string;
}

export interface ExtractResult {
  /** Absolute path of each asset, by key. */
  paths: Record<string, string>;
  /** Keys that had to be (re)written this time. */
  written: string[];
}

export function extractAssets(dir: string, assets: NativeAsset[], read: (key: string) => ArrayBuffer): ExtractResult {
  const paths: Record<string, string> = {};
  const written: string[] = [];
  for (const a of assets) {
    const dest = path.join(dir, a.rel);
    if (!dest.startsWith(dir + path.sep)) throw new Error(`asset path escapes the cache dir: ${a.rel}`);
    const data = read(a.key);
    if (sizeOf(dest) !== data.byteLength) {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      const tmp = `${dest}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, new Uint8Array(data), { mode: 0o755 });
        fs.renameSync(tmp, dest);
      } catch (err) {
        fs.rmSync(tmp, { force: true });
        throw err;
      }
      written.push(a.key);
    }
    paths[a.key] = dest;
  }
  return { paths, written };
}

function sizeOf(file: string): number {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st.size : -1;
  } catch {
    return -1;
  }
}
