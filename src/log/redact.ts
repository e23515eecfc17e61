/**
 * Secret scrubbing. Every log line (at every level) and every error message passes through a
 * Redactor, which replaces each known secret value with [redacted]. Known secrets are values from
 * variables used in `clients`, `headers`, `keys`, `oauth`, `egress`, `forwardProxy`, plus every
 * OAuth token the relay obtained (added at run time).
 */
export const REDACTED = '[redacted]';

/** Header names whose values are never logged. */
export const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'x-proxy-token',
  'x-key',
  'x-secret',
  'api-key',
  'x-api-key',
  'x-goog-api-key',
  'cookie',
  'set-cookie',
]);

export class Redactor {
  private secrets: string[] = [];

  constructor(initial: Iterable<string> = []) {
    for (const s of initial) this.add(s);
  }

  add(secret: string): void {
    // Very short values would redact ordinary words; secrets that short are not secrets anyway.
    if (secret.length < 4 || this.secrets.includes(secret)) return;
    this.secrets.push(secret);
    // Longest first, so a header value "Bearer sk-…" wins over the bare key inside it.
    this.secrets.sort((a, b) => b.length - a.length);
  }

  remove(secret: string): void {
    this.secrets = this.secrets.filter((s) => s !== secret);
  }

  replaceAll(list: Iterable<string>): void {
    this.secrets = [];
    for (const s of list) this.add(s);
  }

  get size(): number {
    return this.secrets.length;
  }

  /** Replaces every occurrence of every secret (and its JSON-escaped form). */
  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) {
      if (out.includes(s)) out = out.split(s).join(REDACTED);
    }
    return out;
  }

  has(text: string): boolean {
    for (const s of this.secrets) if (text.includes(s)) return true;
    return false;
  }
}

const KEY_PARAM_RE = /([?&](?:key|api_key|apikey|token|access_token|id_token|jwt)=)[^&#\s"]*/gi;
/** A JWT anywhere (header and payload always start with `eyJ`, base64url of `{"`). */
const JWT_RE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/**
 * Redacts `key=` style query parameters in a path or URL (Gemini puts the key in the query), and
 * any JWT under whatever parameter name: the relay refuses tokens in the query (spec §11), but a
 * frontend that tried must not leave a user's session token in the logs.
 */
export function redactQuery(pathOrUrl: string): string {
  if (!pathOrUrl.includes('=')) return pathOrUrl;
  const out = pathOrUrl.replace(KEY_PARAM_RE, `$1${REDACTED}`);
  return out.includes('eyJ') ? out.replace(JWT_RE, REDACTED) : out;
}

/** A copy of headers with secret-bearing values replaced; for debug logging. */
export function redactHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(h)) out[k] = SECRET_HEADERS.has(k.toLowerCase()) ? REDACTED : v;
  return out;
}

/** Strips user:pass from a URL for messages ("http://u:p@host:3128" → "http://host:3128"). */
export function stripCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
