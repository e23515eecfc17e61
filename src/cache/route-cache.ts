/**
 * A route's compiled `cache:` settings: which paths and methods are cached, the TTLs, what goes
 * into the key besides the request itself, and the shared store it uses.
 */
import type { RouteCacheConfig, RouteConfig } from '../config/schema.js';
import { canonicalJson } from './key.js';
import type { SharedCache } from './registry.js';

export interface RouteCache {
  config: RouteCacheConfig;
  shared: SharedCache;
  methods: ReadonlySet<string>;
  ttl: number;
  maxTtl: number;
  scope: 'client' | 'shared';
  /** Lower-cased names of the headers keyed: Accept and Accept-Encoding, then `cache.headers`. */
  headers: string[];
  replayStreams: boolean;
  /** Canonical JSON of the route's transforms: changing a setting (JPEG quality) changes every key. */
  transforms: string;
  /** Headers whose values the route itself sets (its own upstream key): never keyed. */
  routeSet: ReadonlySet<string>;
  /** Does the cache apply to `method` on `tail` (the path after the route prefix, no query)? */
  applies(method: string, tail: string): boolean;
}

export function compileRouteCache(rc: RouteConfig, shared: SharedCache): RouteCache {
  const cfg = rc.cache!;
  const patterns = cfg.paths.map(compilePath);
  const routeSet = new Set(Object.keys(rc.headers.set).map((h) => h.toLowerCase()));
  if (rc.keys) routeSet.add(rc.keys.header.toLowerCase());
  if (rc.oauth) routeSet.add(rc.oauth.header.toLowerCase());
  const methods = new Set<string>(cfg.methods);
  return {
    config: cfg,
    shared,
    methods,
    ttl: cfg.ttl,
    maxTtl: Math.max(cfg.maxTtl ?? cfg.ttl, 0),
    scope: cfg.scope,
    // Accept-Encoding decides whether the stored bytes are compressed, and Accept may pick the
    // format: always keyed, so a client that cannot read gzip never gets a gzip entry.
    headers: [...new Set(['accept', 'accept-encoding', ...cfg.headers.map((h) => h.toLowerCase())])],
    replayStreams: cfg.stream === 'replay',
    transforms: canonicalJson(rc.transforms),
    routeSet,
    applies(method, tail) {
      if (!methods.has(method)) return false;
      const path = tail === '' ? '/' : tail;
      for (const p of patterns) if (p(path)) return true;
      return false;
    },
  };
}

/** `/v1/models/*`: exact segments, `*` = exactly one non-empty segment. */
export function compilePath(pattern: string): (path: string) => boolean {
  const want = segments(pattern);
  // Compared in place, segment by segment (this runs on every request of a caching route,
  // cached path or not): no split arrays, no trimmed copies.
  return (path) => {
    if (path === '/') return want.length === 1 && want[0] === '';
    let end = path.length;
    while (end > 0 && path.charCodeAt(end - 1) === 47 /* / */) end--;
    // The segments are what follows each '/' of the trimmed path (what precedes the first is dropped).
    const first = path.indexOf('/');
    if (first < 0 || first >= end) return want.length === 0;
    let at = first + 1;
    for (let i = 0; i < want.length; i++) {
      if (at > end) return false;
      let next = path.indexOf('/', at);
      if (next < 0 || next > end) next = end;
      const w = want[i]!;
      if (w === '*') {
        if (next === at) return false;
      } else if (next - at !== w.length || !path.startsWith(w, at)) return false;
      at = next + 1;
    }
    return at > end;
  };
}

/** The old reading, kept as the reference: `/a/b/` → ['a', 'b'], `/` → ['']. */
function segments(path: string): string[] {
  return path === '/' ? [''] : path.replace(/\/+$/, '').split('/').slice(1);
}
