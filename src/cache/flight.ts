/**
 * Single flight: identical requests in flight at once share one upstream call (nginx's
 * `proxy_cache_lock`, lru-cache's `fetch()`). The first request leads: its forward() records
 * through a Recorder, which this Flight listens to. Later identical requests join as followers:
 *
 * - event streams: a follower gets the head and every byte already sent, then the rest live;
 * - other answers: followers get the whole answer once it is complete and stored;
 * - an answer that will not be stored (error status, `no-store`, too large, reset, timeout) is
 *   not shared: each follower that has received nothing goes upstream on its own; one that
 *   already has part of a stream is cut, like the leader's client;
 * - a follower that leaves affects no one; when the leader's client left, the upstream call goes
 *   on while anyone follows it and is aborted when the last follower leaves;
 * - followers per flight are bounded; past the bound a request simply goes upstream itself.
 */
import type { CacheEntry } from './entry.js';
import type { Recorder, RecorderListener } from './recorder.js';
import type { ChurnMap } from '../util/churn-map.js';

export interface Follower {
  /** Write the answer's head (allowlisted headers; the follower adds its own). */
  start(status: number, headers: Record<string, string>, length: number | undefined): void;
  data(chunk: Buffer): void;
  end(): void;
  /** The answer broke after this follower received part of it. */
  cut(reason: string): void;
  /** The answer is not shared: go upstream alone. */
  release(): void;
}

export const MAX_FOLLOWERS = 1000;

export class Flight implements RecorderListener {
  private readonly followers = new Map<Follower, { started: boolean }>();
  private open = true;
  private leaderGone = false;

  constructor(
    readonly key: string,
    private readonly flights: ChurnMap<Flight>,
    private readonly recorder: Recorder,
    private readonly maxFollowers = MAX_FOLLOWERS,
  ) {
    recorder.listener = this;
    flights.set(key, this);
  }

  /** false: this flight cannot take the follower (closed, or full); it should go upstream itself. */
  join(f: Follower): boolean {
    if (!this.open || this.followers.size >= this.maxFollowers) return false;
    const st = { started: false };
    this.followers.set(f, st);
    const r = this.recorder;
    if (r.state === 'open' && r.sse) {
      // A live stream: the bytes already sent, then the rest as they come.
      st.started = true;
      f.start(r.status, r.headers ?? {}, undefined);
      for (const c of r.chunks) f.data(c);
    }
    return true;
  }

  /** A follower's client left. */
  leave(f: Follower): void {
    if (!this.followers.delete(f)) return;
    if (this.leaderGone && this.followers.size === 0) {
      this.close();
      this.recorder.abort?.('every client following the answer left');
    }
  }

  get size(): number {
    return this.followers.size;
  }

  private close(): void {
    this.open = false;
    if (this.flights.get(this.key) === this) this.flights.delete(this.key);
  }

  /** Followers that have received nothing go upstream on their own. */
  private releaseWaiting(): void {
    for (const [f, st] of [...this.followers]) {
      if (st.started) continue;
      this.followers.delete(f);
      f.release();
    }
  }

  head(): void {
    const r = this.recorder;
    if (!r.storable) {
      this.close();
      this.releaseWaiting();
      return;
    }
    if (!r.sse) return; // complete answers are handed over at the end
    for (const [f, st] of this.followers) {
      st.started = true;
      f.start(r.status, r.headers ?? {}, undefined);
    }
  }

  data(chunk: Buffer): void {
    for (const [f, st] of this.followers) if (st.started) f.data(chunk);
  }

  oversize(): void {
    // The bytes so far are gone: nobody new can join, and waiters of a complete answer go alone.
    this.close();
    this.releaseWaiting();
  }

  end(entry: CacheEntry | undefined): void {
    this.close();
    const all = [...this.followers];
    this.followers.clear();
    for (const [f, st] of all) {
      if (st.started) f.end();
      else if (entry) {
        f.start(entry.status, entry.headers, entry.body.length);
        f.data(entry.body);
        f.end();
      } else f.release();
    }
  }

  fail(reason: string): void {
    this.close();
    const all = [...this.followers];
    this.followers.clear();
    for (const [f, st] of all) {
      if (st.started) f.cut(reason);
      else f.release();
    }
  }

  keepGoing(): boolean {
    this.leaderGone = true;
    return this.followers.size > 0;
  }
}
