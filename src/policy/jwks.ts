/**
 * A JWT issuer's remote key set (spec §11), on top of jose's `createRemoteJWKSet`, which already
 * caches the set, shares one in-flight fetch, gives up after `timeoutDuration` and refetches for an
 * unknown `kid` at most once per `cooldownDuration`.
 *
 * What jose leaves to us, and this file adds:
 * - After a *failed* fetch jose would fetch again on the very next request (it only rate-limits
 *   refetches after a success), so an issuer that is down would get one fetch per request. Here a
 *   failure also starts the cooldown: until it passes, requests are answered from the cached set,
 *   or with `KeySetUnavailable` (→ 503 auth_unavailable) when nothing was ever fetched.
 * - When the cached set is older than `cacheMaxAge` and the refresh fails, jose fails the request;
 *   keys that verified a minute ago still prove a signature, so the stale set keeps serving.
 * - The fetch goes through the relay's own undici dispatcher (top-level `egress`, system CAs),
 *   and every attempt is counted and remembered for readiness (`problem()`).
 *
 * Nothing is fetched when this is created: only a request, `warm()` or `problem()` fetches.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  jwksCache,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JSONWebKeySet,
} from 'jose';
import type { Dispatcher } from 'undici';

/** No key set: never fetched successfully, and fetching failed (or is cooling down after a failure). */
export class KeySetUnavailable extends Error {
  /** Seconds until the next fetch may be tried. */
  readonly retryAfter: number;
  constructor(message: string, retryAfter: number) {
    super(message);
    this.name = 'KeySetUnavailable';
    this.retryAfter = retryAfter;
  }
}

export type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<unknown>;

export interface RemoteKeySet {
  url: string;
  getKey: KeyResolver;
  /** Why the key set cannot be fetched right now (undefined while the last fetch worked). */
  problem(): string | undefined;
  /** Fetch in the background when nothing good is cached and the cooldown allows (startup, /ready). */
  warm(): void;
  /** Fetch attempts so far (tests, diagnostics). */
  readonly fetches: number;
  /**
   * The last key set fetched successfully (a new object after every successful fetch), or
   * undefined: the verified-token cache of a JWT client is cleared when this changes.
   */
  readonly current: JSONWebKeySet | undefined;
}

export interface RemoteKeySetOptions {
  /** Least time between two fetches (after an unknown `kid`, and after a failure). */
  cooldown: number;
  /** A fetch gives up after this long. */
  timeout?: number;
  /** How long a fetched set counts as fresh before a request refreshes it. */
  maxAge?: number;
  /** Where the fetch goes out (the relay's egress); default: undici's global dispatcher. */
  dispatcher?: Dispatcher;
}

export function createRemoteKeySet(url: string, opts: RemoteKeySetOptions): RemoteKeySet {
  const cooldown = opts.cooldown;
  let fetches = 0;
  let failedAt = -Infinity;
  let lastError: string | undefined;
  const fail = (why: string) => {
    failedAt = performance.now();
    lastError = why;
  };
  const fetchImpl = async (href: string, init: RequestInit): Promise<Response> => {
    fetches++;
    try {
      const res = opts.dispatcher ? await viaDispatcher(opts.dispatcher, href, init) : await fetch(href, init);
      if (res.status !== 200) fail(`HTTP ${res.status}`);
      else lastError = undefined;
      return res;
    } catch (err) {
      fail(describeFetchError(err));
      throw err;
    }
  };
  // jose writes the last good set and its time here on every successful fetch.
  const cache: { jwks?: JSONWebKeySet; uat?: number } = {};
  const remote = createRemoteJWKSet(new URL(url), {
    timeoutDuration: opts.timeout ?? 5000,
    cooldownDuration: cooldown,
    cacheMaxAge: opts.maxAge ?? 600_000,
    [customFetch]: fetchImpl,
    [jwksCache]: cache as Record<string, never>,
  });

  const coolingAfterFailure = () => performance.now() - failedAt < cooldown;
  const retryAfter = () => Math.max(1, Math.ceil((cooldown - (performance.now() - failedAt)) / 1000));
  const unavailable = () =>
    new KeySetUnavailable(`the key set ${url} cannot be fetched (${lastError ?? 'not fetched yet'}); retrying in at most ${retryAfter()}s`, retryAfter());

  let stale: { from: JSONWebKeySet; resolve: KeyResolver } | undefined;
  const cached = (): KeyResolver | undefined => {
    if (!cache.jwks) return undefined;
    if (stale?.from !== cache.jwks) stale = { from: cache.jwks, resolve: createLocalJWKSet(cache.jwks) as KeyResolver };
    return stale.resolve;
  };

  /** One fetch (shared with any in flight); a failure is remembered, never thrown. */
  const reload = async (): Promise<void> => {
    try {
      await remote.reload();
    } catch (err) {
      // Errors after the response (invalid JSON, not a key set) never passed through fetchImpl's catch.
      if (!coolingAfterFailure() || lastError === undefined) fail(describeFetchError(err));
    }
  };
  /** Refresh when jose would, except within the cooldown after a failure. */
  const refresh = async (): Promise<void> => {
    if (remote.fresh || coolingAfterFailure()) return;
    await reload();
  };

  /**
   * Nothing to do while a good set is cached; otherwise (never fetched, or the last fetch failed)
   * fetch in the background, once per cooldown however often /ready is read, so readiness notices
   * an issuer that came back without waiting for a user's request.
   */
  const warm = (): void => {
    if ((cache.jwks && lastError === undefined) || remote.reloading || coolingAfterFailure()) return;
    void reload();
  };

  return {
    url,
    get fetches() {
      return fetches;
    },
    get current() {
      return cache.jwks;
    },
    async getKey(header, token) {
      await refresh();
      if (!remote.fresh || coolingAfterFailure()) {
        // Nothing fresh, or the issuer failed recently: serve what was fetched before, fetch nothing.
        const local = cached();
        if (!local) throw unavailable();
        return local(header, token);
      }
      const before = failedAt;
      try {
        return await remote(header, token);
      } catch (err) {
        // jose refetched for an unknown kid and that fetch failed: the answer is what the cached
        // set says (usually "no matching key", a 401), not the network error.
        if (failedAt === before) throw err;
        const local = cached();
        if (!local) throw unavailable();
        return local(header, token);
      }
    },
    problem() {
      warm();
      if (lastError === undefined) return undefined;
      return `JWKS ${url}: ${lastError}${cache.jwks ? ' (serving the keys fetched before)' : ''}`;
    },
    warm,
  };
}

function describeFetchError(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'JWKSTimeout' || e?.name === 'TimeoutError') return 'timed out';
  if (e?.cause?.code) return e.cause.code;
  return e?.cause?.message ?? e?.message ?? String(err);
}

/** A key set is a few kB; anything past this is not one (and is not held in memory). */
const MAX_JWKS_BYTES = 1024 * 1024;

/**
 * GET through the relay's own dispatcher (its egress), answered as a web Response for jose. Not
 * undici's fetch: the CLI bundle carries only undici's dispatcher core (scripts/build-cli-bundle.mjs).
 * Redirects are not followed, as jose asks (`redirect: manual`).
 */
async function viaDispatcher(dispatcher: Dispatcher, href: string, init: RequestInit): Promise<Response> {
  const u = new URL(href);
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  const signal = init.signal ?? undefined;
  const res = await dispatcher.request({ origin: u.origin, path: u.pathname + u.search, method: 'GET', headers, ...(signal ? { signal } : {}) });
  if (res.statusCode !== 200) {
    res.body.resume();
    return new Response(null, { status: res.statusCode >= 200 && res.statusCode <= 599 ? res.statusCode : 502 });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_JWKS_BYTES) {
      res.body.destroy();
      throw new Error(`key set larger than ${MAX_JWKS_BYTES} bytes`);
    }
    chunks.push(c);
  }
  return new Response(Buffer.concat(chunks), { status: 200, headers: { 'content-type': 'application/json' } });
}
