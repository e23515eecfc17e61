/**
 * CORS per route (spec §4 step 4, §10 "Origins"). The relay answers preflights itself and
 * replaces whatever CORS headers the upstream sends. A request whose Origin is not allowed is
 * refused (403) and never forwarded, so a foreign page cannot spend the owner's quota through its
 * visitors' browsers.
 */
import type { CorsConfig } from '../config/schema.js';
import type { OutHeaders } from '../upstream/headers.js';

/** Always exposed so browser code can read ids, timing, limits and budgets. */
const BASE_EXPOSE = ['X-Request-Id', 'Server-Timing', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After', 'X-Budget-Limit', 'X-Budget-Remaining', 'X-Budget-Reset', 'X-Should-Retry'];
const DEFAULT_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

export interface CorsPolicy {
  /** true when this origin may call the route. */
  allows(origin: string): boolean;
  /** Headers for an actual (non-preflight) response to an allowed origin. */
  responseHeaders(origin: string): OutHeaders;
  /** Headers for a preflight answer to an allowed origin. */
  preflightHeaders(origin: string, requestedHeaders: string | undefined): OutHeaders;
}

/** On a caching route (§13): scripts may read the cache status, and send the cache controls. */
const CACHE_EXPOSE = ['X-Relay-Cache', 'Age'];
const CACHE_ALLOW = ['Cache-Control', 'X-Relay-Cache-TTL'];

export function compileCors(cfg: CorsConfig, methods: readonly string[] | undefined, opts: { cache?: boolean } = {}): CorsPolicy {
  const any = cfg.origins.includes('*');
  const exact = new Set(cfg.origins.filter((o) => !o.includes('*')).map((o) => o.toLowerCase()));
  const wild = cfg.origins
    .filter((o) => o.includes('*.'))
    .map((o) => {
      const m = /^(https?):\/\/\*\.([^:]+)(:\d+)?$/.exec(o.toLowerCase())!;
      return { scheme: m[1]!, suffix: '.' + m[2]!, port: m[3] ?? '' };
    });
  const expose = [...BASE_EXPOSE, ...(opts.cache ? CACHE_EXPOSE : []), ...(cfg.exposeHeaders ?? [])].join(', ');
  const allowMethods = methods ? [...new Set([...methods, 'OPTIONS'])].join(', ') : DEFAULT_METHODS;
  const maxAge = String(Math.floor(cfg.maxAge / 1000));
  const allowHeaders = cfg.allowHeaders ? [...new Set([...cfg.allowHeaders, ...(opts.cache ? CACHE_ALLOW : [])])].join(', ') : undefined;
  const originValue = (origin: string) => (any && !cfg.credentials ? '*' : origin);

  const allows = (origin: string): boolean => {
    const o = origin.toLowerCase();
    if (o === 'null') return exact.has('null');
    if (exact.has(o)) return true;
    if (any) return true;
    for (const w of wild) {
      const m = /^(https?):\/\/([^/:]+)(:\d+)?$/.exec(o);
      if (m && m[1] === w.scheme && (m[3] ?? '') === w.port && m[2]!.endsWith(w.suffix) && m[2]!.length > w.suffix.length) return true;
    }
    return false;
  };

  return {
    allows,
    responseHeaders(origin) {
      const h: OutHeaders = { 'access-control-allow-origin': originValue(origin), 'access-control-expose-headers': expose };
      if (cfg.credentials) h['access-control-allow-credentials'] = 'true';
      return h;
    },
    preflightHeaders(origin, requested) {
      const h: OutHeaders = {
        'access-control-allow-origin': originValue(origin),
        'access-control-allow-methods': allowMethods,
        'access-control-max-age': maxAge,
      };
      // Echoing the requested headers already allows the cache controls; a fixed list gets them added.
      const ah = allowHeaders ?? requested;
      if (ah) h['access-control-allow-headers'] = ah;
      if (cfg.credentials) h['access-control-allow-credentials'] = 'true';
      return h;
    },
  };
}
