/**
 * Where the single executable unpacks its native code (sharp's addon and libvips).
 * `AI_RELAY_CACHE_DIR` wins so an operator can move it off a `noexec` mount; otherwise the XDG
 * cache dir, as every well-behaved CLI does. The versioned subdirectory means two binaries of
 * different sharp/libvips versions never share (or corrupt) each other's files.
 */
import os from 'node:os';
import path from 'node:path';

export type Env = Record<string, string | undefined>;

export function cacheRoot(env: Env = process.env): string {
  if (env.AI_RELAY_CACHE_DIR) return path.resolve(env.AI_RELAY_CACHE_DIR);
  const xdg = env.XDG_CACHE_HOME;
  // XDG says a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'ai-relay');
  return path.join(env.HOME || os.homedir(), '.cache', 'ai-relay');
}

/** `<root>/native-<id>`; `id` is `<sharp version>-<libvips version>`. */
export function nativeDir(id: string, env: Env = process.env): string {
  if (!/^[A-Za-z0-9._-]+$/.test(id)) throw new Error(`invalid native bundle id ${JSON.stringify(id)}`);
  return path.join(cacheRoot(env), `native-${id}`);
}
