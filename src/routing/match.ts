/** Pure matching: base-path stripping and longest-prefix route lookup on segment boundaries. */

/** True when `path` equals `prefix` or continues it at a segment boundary. `/` matches all. */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47;
}

/**
 * Strips the longest matching base path. `bases` must be sorted longest first and normalised
 * (no trailing slash, `/` for the root). Returns the base used ('' for the root).
 */
export function stripBase(path: string, bases: readonly string[]): { base: string; rest: string } | undefined {
  for (const b of bases) {
    if (b === '/') return { base: '', rest: path };
    if (underPrefix(path, b)) return { base: b, rest: path.length === b.length ? '/' : path.slice(b.length) };
  }
  return undefined;
}

export interface Prefixed {
  prefix: string;
}

/** `routes` sorted by prefix length, longest first. */
export function matchRoute<T extends Prefixed>(path: string, routes: readonly T[]): T | undefined {
  for (const r of routes) if (underPrefix(path, r.prefix)) return r;
  return undefined;
}
