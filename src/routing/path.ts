/**
 * Request-target safety (spec §10 "Paths"). We refuse rather than normalise: the APIs a relay
 * serves never need dot segments or encoded slashes, and refusing leaves no normalisation gap
 * between what we check and what the upstream resolves (WHATWG URL resolves `%2e%2e` and `\`).
 */

// Dot segments raw or percent-encoded (`.`, `..`, `%2e`, `.%2E`…) as whole segments.
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;
// Encoded slash/backslash/NUL, raw backslash or NUL.
const FORBIDDEN = /%2f|%5c|%00|\\|\0/i;

/** Splits a raw request target into path and query (query keeps its `?`, byte for byte). */
export function splitTarget(rawUrl: string): { path: string; query: string } | undefined {
  let url = rawUrl;
  if (url.charCodeAt(0) !== 47 /* '/' */) {
    // absolute-form (`GET http://host/x`): the authority never chooses the upstream; keep the path.
    const m = /^https?:\/\/[^/?#]*/i.exec(url);
    if (!m) return undefined;
    url = url.slice(m[0].length) || '/';
    if (url.charCodeAt(0) === 63 /* '?' */) url = '/' + url;
  }
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q) };
}

/** Returns a reason when the path must be refused with 400, else undefined. */
export function unsafePathReason(path: string): string | undefined {
  if (path.length > 1 && path.charCodeAt(1) === 47 /* '//' */) return 'empty leading path segment';
  if (FORBIDDEN.test(path)) return 'encoded slash, backslash or NUL in path';
  if (DOT_SEGMENT.test(path)) return 'dot segment in path';
  if (path.includes('#')) return 'fragment in request target';
  return undefined;
}
