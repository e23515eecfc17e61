/**
 * One stored answer and its wire format for Redis. What is stored is what the client received
 * (after transforms): status, body, and only the headers in ALLOWED — never Set-Cookie,
 * rate-limit, request-id, Server-Timing or CORS headers, which belong to the request that made
 * them and are added fresh (for the current request) on every hit.
 */
import type { OutHeaders } from '../upstream/headers.js';

export interface CacheEntry {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Date.now() (or the store's clock) when stored; gives `Age`. */
  storedAt: number;
}

const ALLOWED = new Set([
  'content-type',
  'content-encoding',
  'content-language',
  'content-disposition',
  'etag',
  'last-modified',
  'x-content-type-options',
]);

/** The allowlisted part of a response head; `keepLength` for HEAD answers, which have no body to measure. */
export function storedHeaders(h: OutHeaders, keepLength: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    const name = k.toLowerCase();
    if (ALLOWED.has(name) || (keepLength && name === 'content-length')) {
      const v = h[k]!;
      out[name] = Array.isArray(v) ? v.join(', ') : v;
    }
  }
  return out;
}

/** Approximate bytes an entry holds in memory (body + headers + bookkeeping). */
export function entrySize(e: CacheEntry): number {
  let n = e.body.length + 64;
  for (const k in e.headers) n += k.length + e.headers[k]!.length;
  return n;
}

/**
 * Redis value: 4-byte big-endian length of a JSON head, the head, then the body bytes. The body
 * stays binary (no base64: a third larger and a copy more).
 */
export function encodeEntry(e: CacheEntry): Buffer {
  const head = Buffer.from(JSON.stringify({ v: 1, s: e.status, h: e.headers, t: e.storedAt }), 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(head.length);
  return Buffer.concat([len, head, e.body]);
}

/** undefined for anything that is not a well-formed entry (a corrupt or foreign value is a miss). */
export function decodeEntry(b: Buffer): CacheEntry | undefined {
  try {
    if (b.length < 4) return undefined;
    const n = b.readUInt32BE(0);
    if (n > b.length - 4) return undefined;
    const head = JSON.parse(b.subarray(4, 4 + n).toString('utf8')) as { v?: unknown; s?: unknown; h?: unknown; t?: unknown };
    if (head.v !== 1 || typeof head.s !== 'number' || typeof head.t !== 'number' || !head.h || typeof head.h !== 'object') return undefined;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(head.h as Record<string, unknown>)) if (typeof v === 'string' && /^[a-z0-9-]+$/.test(k)) headers[k] = v;
    return { status: head.s, headers, body: b.subarray(4 + n), storedAt: head.t };
  } catch {
    return undefined;
  }
}
