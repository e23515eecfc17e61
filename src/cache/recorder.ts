/**
 * Records one answer as the client receives it (the ForwardTap of forward.ts) and decides whether
 * it may be stored: only `200`, only when the upstream did not say `no-store`/`private` and set no
 * cookie, only within `maxEntrySize`, and for event streams only after a clean end. Chunks are
 * kept by reference (no copy per chunk); the one concatenation happens when the entry is committed.
 *
 * A Flight (flight.ts) may listen, to hand the same answer to identical requests waiting on it.
 */
import type { ForwardTap } from '../upstream/forward.js';
import type { OutHeaders } from '../upstream/headers.js';
import { upstreamForbids } from './control.js';
import { storedHeaders, type CacheEntry } from './entry.js';
import { SseWatch } from './sse-watch.js';

export interface RecorderListener {
  /** The client head was written; `recorder.storable` tells whether the answer can be shared. */
  head(): void;
  data(chunk: Buffer): void;
  /** The answer went past maxEntrySize: no longer kept (the stream itself goes on). */
  oversize(): void;
  /** Ended normally; `entry` when it was committed (stored). */
  end(entry: CacheEntry | undefined): void;
  fail(reason: string): void;
  keepGoing(): boolean;
}

export interface RecorderOptions {
  method: string;
  maxEntrySize: number;
  /** `stream: replay`: event streams may be stored. */
  replayStreams: boolean;
  now(): number;
  /** Store the entry (the recorder has decided it is storable and complete). */
  commit(entry: CacheEntry): void;
  /** Called once when the answer turns out not to be storable before it began (bypassed stream). */
  onBypassedStream?(): void;
}

export class Recorder implements ForwardTap {
  status = 0;
  headers: Record<string, string> | undefined;
  /** The kept body so far (by reference); emptied when it grows past maxEntrySize. */
  chunks: Buffer[] = [];
  size = 0;
  storable = true;
  sse = false;
  /** Where the answer is: before the head, streaming, or over. */
  state: 'waiting' | 'open' | 'ended' | 'failed' = 'waiting';
  /** Why it is not stored (for debugging and tests). */
  reason: string | undefined;
  listener: RecorderListener | undefined;
  abort?: (reason: string) => void;
  private watch: SseWatch | undefined;

  constructor(private readonly opts: RecorderOptions) {}

  private refuse(reason: string): void {
    if (!this.storable) return;
    this.storable = false;
    this.reason = reason;
    this.chunks = [];
  }

  upstream(status: number, headers: OutHeaders, raw: Record<string, string | string[] | undefined>): void {
    if (status !== 200) this.refuse(`status ${status}`);
    else if (upstreamForbids(headers['cache-control'])) this.refuse('upstream Cache-Control forbids storing');
    else if (raw['set-cookie'] !== undefined) this.refuse('upstream set a cookie');
  }

  head(status: number, headers: OutHeaders): void {
    if (this.state !== 'waiting') return;
    this.state = 'open';
    this.status = status;
    const ct = headers['content-type'];
    this.sse = typeof ct === 'string' && ct.startsWith('text/event-stream');
    if (status !== 200) this.refuse(`status ${status}`);
    // An API answering 200 with an HTML page is a captive portal, a CDN or a proxy error page:
    // never worth replaying.
    else if (typeof ct === 'string' && ct.startsWith('text/html')) this.refuse('an HTML page');
    if (this.sse) {
      if (!this.opts.replayStreams) {
        this.refuse('stream: bypass');
        this.opts.onBypassedStream?.();
      } else this.watch = new SseWatch();
    }
    this.headers = storedHeaders(headers, this.opts.method === 'HEAD');
    this.listener?.head();
  }

  data(chunk: Buffer): void {
    if (this.state !== 'open') return;
    this.watch?.push(chunk);
    if (this.storable) {
      this.size += chunk.length;
      if (this.size > this.opts.maxEntrySize) {
        this.refuse('larger than maxEntrySize');
        this.listener?.oversize();
      } else this.chunks.push(chunk);
    }
    this.listener?.data(chunk);
  }

  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    let entry: CacheEntry | undefined;
    if (this.storable && this.sse && !this.watch!.clean()) this.refuse(this.watch!.errored ? 'error event in the stream' : 'stream did not end cleanly');
    if (this.storable) {
      entry = { status: this.status, headers: this.headers ?? {}, body: this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size), storedAt: this.opts.now() };
      this.opts.commit(entry);
    }
    this.listener?.end(entry);
  }

  fail(reason: string): void {
    if (this.state === 'ended' || this.state === 'failed') return;
    this.state = 'failed';
    this.refuse(reason);
    this.listener?.fail(reason);
  }

  keepGoing(): boolean {
    return this.listener?.keepGoing() ?? false;
  }
}
