/** Small pure helpers over the core's HeaderMap (lower-case names, as node:http gives them). */
import type { HeaderMap } from './types.js';

export function getHeader(map: HeaderMap, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(map)) {
    if (k.toLowerCase() === lower) return Array.isArray(v) ? v.join(', ') : v;
  }
  return undefined;
}

export function toHeaders(map: HeaderMap): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(map)) {
    for (const one of Array.isArray(v) ? v : [v]) {
      try {
        h.append(k, one);
      } catch {
        // A value Headers refuses (non-ByteString) is not worth failing the response for.
      }
    }
  }
  return h;
}

/** The media type without parameters, lower-cased; '' when absent. */
export function mediaType(map: HeaderMap): string {
  return (getHeader(map, 'content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
}

/** Headers that describe the exact upstream bytes and are wrong once the body changed. */
const BYTE_BOUND = ['content-length', 'content-encoding', 'etag', 'content-md5', 'digest', 'repr-digest', 'content-digest', 'content-range', 'accept-ranges'];

function without(map: HeaderMap, names: readonly string[]): HeaderMap {
  const out: HeaderMap = {};
  for (const [k, v] of Object.entries(map)) if (!names.includes(k.toLowerCase())) out[k] = v;
  return out;
}

/** Headers for a rewritten, uncompressed body of `length` bytes, plus the transform's own changes. */
export function rewrittenHeaders(map: HeaderMap, changes: Record<string, string>, length: number): HeaderMap {
  const out = without(map, [...BYTE_BOUND, ...Object.keys(changes).map((k) => k.toLowerCase())]);
  for (const [k, v] of Object.entries(changes)) out[k.toLowerCase()] = v;
  out['content-length'] = String(length);
  return out;
}

/** Headers for an event stream rewritten event by event: its length and digests are unknown ahead. */
export function streamingHeaders(map: HeaderMap): HeaderMap {
  return without(map, BYTE_BOUND);
}

/** Headers a transform sees for a body it receives decoded. */
export function decodedView(map: HeaderMap): HeaderMap {
  return without(map, ['content-encoding', 'content-length']);
}
