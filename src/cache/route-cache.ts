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
  const want = pattern === '/' ? [''] : pattern.replace(/\/+$/, '').split('/').slice(1);
  return (path) => {
    const got = path === '/' ? [''] : path.replace(/\/+$/, '').split('/').slice(1);
    if (got.length !== want.length) return false;
    for (let i = 0; i < want.length; i++) {
      if (want[i] === '*') {
        if (got[i] === '') return false;
      } else if (want[i] !== got[i]) return false;
    }
    return true;
  };
}
