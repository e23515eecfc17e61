/**
 * The dashboard's SSE feed (`GET <path>/events`): a full snapshot on connect, then at most one
 * update per second — built once and shared by every open stream, and only when something
 * changed — and a heartbeat comment after 15 s without an update.
 *
 * A slow browser costs bounded memory: when a write does not drain, nothing more is written to
 * that stream; when it drains, it gets a fresh snapshot instead of the updates it missed. A stream
 * that stays blocked for STALL_MS, or whose buffer passes MAX_BUFFERED, is dropped.
 */
import type { ClientResponse } from '../server/context.js';
import type { DashboardView } from './view.js';

export const UPDATE_INTERVAL_MS = 1000;
export const HEARTBEAT_MS = 15_000;
/** A stream whose writes have not drained for this long is dropped (a live tab drains in milliseconds). */
export const STALL_MS = 5_000;
export const MAX_BUFFERED = 2 * 1024 * 1024;
export const MAX_STREAMS = 32;

interface Stream {
  res: ClientResponse;
  session: string;
  lastWrite: number;
  /** performance.now() when a write last failed to drain; 0 while flowing. */
  blockedSince: number;
  resync: boolean;
  /** An update was skipped while blocked: the stream needs a fresh snapshot once it drains. */
  missed: boolean;
  /** Newest tail entry this stream has been sent. */
  sentSeq: number;
}

export interface HubSource {
  /** A full snapshot or an update carrying the tail entries after `tailAfter`. */
  view(type: DashboardView['type'], tailAfter: number): DashboardView;
  /** Changes whenever the view may differ (traffic, in-flight counts, phase). */
  signature(): string;
  /** Whether the session may still read the feed (logout, idle expiry, token change end it). */
  sessionAlive(session: string): boolean;
}

export class EventsHub {
  private readonly streams = new Set<Stream>();
  private timer: NodeJS.Timeout | undefined;
  private lastSignature = '';
  private lastTailSeq = 0;
  /** Largest buffered byte count seen on any stream (for tests and the stall guard's proof). */
  maxBufferedSeen = 0;

  constructor(private readonly source: HubSource) {}

  get size(): number {
    return this.streams.size;
  }

  full(): boolean {
    return this.streams.size >= MAX_STREAMS;
  }

  open(res: ClientResponse, session: string, headers: Record<string, string>): void {
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' });
    const snap = this.source.view('snapshot', 0);
    if (this.streams.size === 0) {
      // First listener: updates start from what this snapshot already holds.
      this.lastSignature = this.source.signature();
      this.lastTailSeq = snap.tailSeq;
    }
    const s: Stream = { res, session, lastWrite: 0, blockedSince: 0, resync: false, missed: false, sentSeq: snap.tailSeq };
    this.streams.add(s);
    res.on('close', () => this.streams.delete(s));
    this.write(s, `retry: 2000\n\nevent: snapshot\ndata: ${JSON.stringify(snap)}\n\n`);
    this.timer ??= setInterval(() => this.tick(), UPDATE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Ends every stream of a session (logout). */
  dropSession(session: string): void {
    for (const s of this.streams) if (s.session === session) s.res.end();
  }

  close(): void {
    for (const s of this.streams) s.res.destroy();
    this.streams.clear();
    this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass per second: one shared update for every stream that keeps up. */
  tick(): void {
    if (this.streams.size === 0) return this.stop();
    const now = performance.now();
    const sig = this.source.signature();
    let update: string | undefined;
    const from = this.lastTailSeq;
    // Streams that joined since the last tick hold a newer snapshot: they get their own delta.
    const own = new Map<number, string>();
    if (sig !== this.lastSignature) {
      this.lastSignature = sig;
      const view = this.source.view('update', from);
      this.lastTailSeq = view.tailSeq;
      update = `event: update\ndata: ${JSON.stringify(view)}\n\n`;
    }
    const updateFor = (s: Stream): string | undefined => {
      if (!update) return undefined;
      if (s.sentSeq === from) return update;
      let text = own.get(s.sentSeq);
      if (text === undefined) {
        text = `event: update\ndata: ${JSON.stringify(this.source.view('update', s.sentSeq))}\n\n`;
        own.set(s.sentSeq, text);
      }
      return text;
    };
    for (const s of this.streams) {
      if (!this.source.sessionAlive(s.session)) {
        s.res.end();
        continue;
      }
      if (s.blockedSince) {
        if (now - s.blockedSince > STALL_MS) s.res.destroy();
        else if (update) s.missed = true;
        continue;
      }
      if (s.resync) {
        s.resync = false;
        this.write(s, `event: snapshot\ndata: ${JSON.stringify(this.source.view('snapshot', 0))}\n\n`);
        s.sentSeq = this.lastTailSeq;
        continue;
      }
      const text = updateFor(s);
      if (text) {
        this.write(s, text);
        s.sentSeq = this.lastTailSeq;
      } else if (now - s.lastWrite >= HEARTBEAT_MS) this.write(s, ': heartbeat\n\n');
    }
  }

  private write(s: Stream, text: string): void {
    const res = s.res;
    if (res.destroyed) return;
    s.lastWrite = performance.now();
    const ok = res.write(text);
    const buffered = res.writableLength;
    if (buffered > this.maxBufferedSeen) this.maxBufferedSeen = buffered;
    if (buffered > MAX_BUFFERED) {
      res.destroy();
      return;
    }
    if (!ok) {
      s.blockedSince = s.lastWrite;
      res.once('drain', () => {
        s.blockedSince = 0;
        // What it missed meanwhile is replaced by a fresh snapshot, never queued.
        if (s.missed) s.resync = true;
        s.missed = false;
      });
    }
  }
}
