/**
 * The client's cache controls, with their HTTP meanings (RFC 9111 §5.2.1), not Helicone's
 * max-age-as-TTL: `no-store` → neither read nor write (BYPASS); `no-cache` → do not read, still
 * write (REFRESH); `max-age=N` → only entries at most N seconds old. `X-Relay-Cache-TTL: N`
 * asks for a store TTL of N seconds, clamped to the route's `maxTtl`.
 */
export interface ClientControls {
  noStore: boolean;
  noCache: boolean;
  /** Milliseconds; undefined when the client set no max-age. */
  maxAgeMs: number | undefined;
  /** Milliseconds; undefined when absent or not a whole number of seconds. */
  ttlMs: number | undefined;
}

export function clientControls(cacheControl: string | string[] | undefined, ttlHeader: string | string[] | undefined): ClientControls {
  const c: ClientControls = { noStore: false, noCache: false, maxAgeMs: undefined, ttlMs: undefined };
  const cc = Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl;
  if (cc) {
    for (const part of cc.split(',')) {
      const [rawName, rawValue] = part.split('=', 2);
      const name = rawName!.trim().toLowerCase();
      if (name === 'no-store') c.noStore = true;
      else if (name === 'no-cache') c.noCache = true;
      else if (name === 'max-age' && rawValue !== undefined) {
        const v = rawValue.trim().replace(/^"|"$/g, '');
        // Invalid max-age is treated as 0 (RFC 9111 §4.2.1: stale), which is the safe reading.
        c.maxAgeMs = /^\d{1,10}$/.test(v) ? Number(v) * 1000 : 0;
      }
    }
  }
  const t = Array.isArray(ttlHeader) ? ttlHeader[0] : ttlHeader;
  if (t !== undefined && /^\s*\d{1,10}\s*$/.test(t)) c.ttlMs = Number(t) * 1000;
  return c;
}

/** Does the upstream's answer forbid storing (`no-store`, `private`)? */
export function upstreamForbids(cacheControl: string | string[] | undefined): boolean {
  if (cacheControl === undefined) return false;
  const cc = (Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl).toLowerCase();
  return /(^|[\s,])(no-store|private)(\s*(=|,|$))/.test(cc);
}
