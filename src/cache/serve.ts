/**
 * The cache step of an exchange (spec §13), between the policy checks (auth, origin, rate limit:
 * already passed) and the upstream call: read the body (bounded) → key → client controls →
 * lookup → a hit is answered here; an identical request in flight is joined; otherwise this
 * request goes upstream, recorded, leading a flight others can join.
 *
 * Failing open everywhere: a store that errs or is slow means a MISS served from upstream,
 * counted in metrics, never a 5xx.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Exchange } from '../server/context.js';
import { writeHead, type ForwardTap } from '../upstream/forward.js';
import type { OutHeaders } from '../upstream/headers.js';
import { clientControls } from './control.js';
import type { CacheEntry } from './entry.js';
import { Flight, type Follower } from './flight.js';
import { cacheKey, canonicalBody, credentialDigest, scopeOf } from './key.js';
import { Recorder } from './recorder.js';
import type { RouteCache } from './route-cache.js';

export type CacheResult = 'hit' | 'miss' | 'bypass' | 'refresh';

export interface CacheRequest {
  /** The request body as the handler found it: none, the request itself or a size-limiting stream. */
  body: Readable | null;
  /** The upload guard's clock, restarted by each chunk read here (none: no guard). */
  touch: (() => void) | undefined;
  /** Upstream path + query. */
  upstreamPath: string;
  /** The headers that will go upstream (after the route's rewrite). */
  upstreamHeaders: OutHeaders;
}

export interface CacheHooks {
  done(x: Exchange): void;
  /** Go upstream with this body, `tap` recording what the client receives. */
  upstream(x: Exchange, body: Buffer | Readable | null, tap: ForwardTap | undefined): void;
}

/** A follower buffering more than this (a client not reading a shared stream) is dropped. */
const FOLLOWER_BUFFER_LIMIT = 16 * 1024 * 1024;

export function mark(x: Exchange, result: CacheResult): void {
  x.cache = result;
  x.relayHeaders['x-relay-cache'] = result.toUpperCase();
}

export function throughCache(x: Exchange, rc: RouteCache, cr: CacheRequest, hooks: CacheHooks): void {
  const ctl = clientControls(x.req.headers['cache-control'], x.req.headers['x-relay-cache-ttl'] as string | undefined);
  if (ctl.noStore) {
    mark(x, 'bypass');
    return hooks.upstream(x, cr.body, undefined);
  }
  const limit = rc.shared.maxEntrySize;
  readBounded(cr.body, x.bytesIn, limit, cr.touch, (got) => {
    if (got === undefined) return hooks.done(x); // the client went away while uploading
    if (!Buffer.isBuffer(got)) {
      // A body too large to key: an answer to it would hardly be asked for twice.
      mark(x, 'bypass');
      return hooks.upstream(x, got, undefined);
    }
    lookup(x, rc, cr, got, ctl, hooks);
  });
}

function lookup(x: Exchange, rc: RouteCache, cr: CacheRequest, body: Buffer, ctl: ReturnType<typeof clientControls>, hooks: CacheHooks): void {
  const { store, flights, events } = rc.shared;
  const key = cacheKey({
    route: x.route!.name,
    method: x.method,
    path: cr.upstreamPath,
    body: canonicalBody(body, x.req.headers['content-type']),
    headers: rc.headers.map((h) => headerText(cr.upstreamHeaders[h])),
    transforms: rc.transforms,
    scope: scopeOf(rc.scope, x.client, x.user, x.ip),
    credentials: credentialDigest(cr.upstreamHeaders, rc.routeSet),
  });
  const ttl = ctl.ttlMs !== undefined ? Math.min(ctl.ttlMs, rc.maxTtl) : rc.ttl;
  const forwardBody = body.length ? body : cr.body === null ? null : body;

  const lead = (joinable: boolean) => {
    const recorder = new Recorder({
      method: x.method,
      maxEntrySize: rc.shared.maxEntrySize,
      replayStreams: rc.replayStreams,
      now: store.now,
      commit(entry) {
        if (ttl <= 0) return;
        try {
          const p = store.set(key, entry, ttl);
          if (p) p.catch(() => events.onStoreError('set'));
        } catch {
          events.onStoreError('set');
        }
      },
      onBypassedStream: () => mark(x, 'bypass'),
    });
    if (joinable && !flights.has(key)) new Flight(key, flights, recorder);
    hooks.upstream(x, forwardBody, recorder);
  };

  const afterLookup = (entry: CacheEntry | undefined) => {
    if (x.res.destroyed) return hooks.done(x);
    if (entry && entry.status === 200 && (ctl.maxAgeMs === undefined || store.now() - entry.storedAt <= ctl.maxAgeMs)) {
      return serveHit(x, entry, store.now(), hooks);
    }
    const flight = flights.get(key);
    if (flight) {
      mark(x, 'hit');
      const f = follower(x, () => flight, hooks, () => {
        mark(x, 'miss');
        lead(false);
      });
      if (flight.join(f.follower)) return f.watch();
    }
    mark(x, 'miss');
    lead(true);
  };

  if (ctl.noCache) {
    // Not read, still stored. It does not join a flight either: the client asked for a fresh answer.
    mark(x, 'refresh');
    return lead(false);
  }
  let got: CacheEntry | undefined | Promise<CacheEntry | undefined>;
  try {
    got = store.get(key);
  } catch {
    events.onStoreError('get');
    got = undefined;
  }
  if (got instanceof Promise) {
    got.then(afterLookup, () => {
      events.onStoreError('get');
      afterLookup(undefined);
    });
  } else afterLookup(got);
}

function headerText(v: string | string[] | undefined): string | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : v;
}

/** A hit: the stored status, body and allowlisted headers, with this request's own relay headers. */
function serveHit(x: Exchange, entry: CacheEntry, now: number, hooks: CacheHooks): void {
  mark(x, 'hit');
  const age = String(Math.max(0, Math.floor((now - entry.storedAt) / 1000)));
  const head = x.method === 'HEAD';
  x.status = entry.status;
  // One listener: a ServerResponse emits 'close' after 'finish' too (and alone when the client
  // went away first), so the exchange ends exactly once either way.
  x.res.once('close', () => {
    if (!x.res.writableFinished) x.outcome ??= 'client closed the connection';
    hooks.done(x);
  });
  writeHead(x, entry.status, entry.headers, sharedHead(x.method, entry.headers, age, entry.body.length));
  if (head) x.res.end();
  else {
    x.bytesOut = entry.body.length;
    x.res.end(entry.body);
  }
}

/**
 * What a shared answer (a hit, a follower) adds to the stored head: its Age, and the length of
 * the body it sends, when known. A HEAD answer that was stored with a length keeps the length its
 * GET would have.
 */
function sharedHead(method: string, headers: Record<string, string>, age: string, length: number | undefined): string[] {
  return length !== undefined && (method !== 'HEAD' || headers['content-length'] === undefined) ? ['age', age, 'content-length', String(length)] : ['age', age];
}

/** A request that follows another's upstream call (single flight). */
function follower(x: Exchange, flight: () => Flight, hooks: CacheHooks, goAlone: () => void): { follower: Follower; watch(): void } {
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    hooks.done(x);
  };
  const onClose = () => {
    if (x.res.writableFinished) return finish();
    x.outcome ??= 'client closed the connection';
    if (x.status === 0) x.status = 499;
    flight().leave(f);
    finish();
  };
  const f: Follower = {
    start(status, headers, length) {
      x.status = status;
      writeHead(x, status, headers, sharedHead(x.method, headers, '0', length));
    },
    data(chunk) {
      if (x.res.destroyed) return;
      x.bytesOut += chunk.length;
      x.res.write(chunk);
      if (x.res.writableLength > FOLLOWER_BUFFER_LIMIT) {
        x.outcome = 'client read too slowly to follow a shared answer';
        x.res.destroy();
      }
    },
    end() {
      x.res.once('finish', finish);
      x.res.end();
    },
    cut(reason) {
      x.outcome = `stream cut: ${reason}`;
      x.res.destroy();
    },
    release() {
      x.res.off('close', onClose);
      goAlone();
    },
  };
  return {
    follower: f,
    watch() {
      x.res.on('close', onClose);
    },
  };
}

/**
 * Reads a body up to `limit` bytes. Calls back with the Buffer; with a stream that yields the
 * whole body when it is larger (nothing is lost: what was read is replayed first); or undefined
 * when the client went away.
 */
function readBounded(src: Readable | null, declared: number, limit: number, touch: (() => void) | undefined, cb: (got: Buffer | Readable | undefined) => void): void {
  if (src === null) return cb(Buffer.alloc(0));
  if (declared > limit) return cb(src);
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const cleanup = () => {
    src.off('data', onData);
    src.off('end', onEnd);
    src.off('error', onGone);
    src.off('close', onGone);
  };
  const onData = (c: Buffer) => {
    touch?.();
    chunks.push(c);
    size += c.length;
    if (size <= limit || settled) return;
    settled = true;
    cleanup();
    src.pause();
    const pt = new PassThrough();
    for (const b of chunks) pt.write(b);
    src.on('error', (e) => pt.destroy(e));
    // The rest keeps the guard's clock going on its way through the replay stream.
    if (touch) src.on('data', touch);
    src.pipe(pt);
    cb(pt);
  };
  const onEnd = () => {
    if (settled) return;
    settled = true;
    cleanup();
    cb(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const onGone = () => {
    if (settled) return;
    settled = true;
    cleanup();
    cb(undefined);
  };
  src.on('data', onData);
  src.once('end', onEnd);
  src.once('error', onGone);
  src.once('close', onGone);
}
