/**
 * One hour of one-minute buckets for one series (a route, all routes, or one client/user).
 * Slots are allocated once and reused: recording finds the current minute's slot (resetting it
 * when its minute is stale) and adds to it, so the request path allocates nothing.
 */
import { LATENCY_BUCKETS } from './latency.js';

export const MINUTES = 60;
const MINUTE_MS = 60_000;

export class MinuteSlot {
  minute = -1;
  requests = 0;
  s2xx = 0;
  s3xx = 0;
  s4xx = 0;
  s5xx = 0;
  timeouts = 0;
  rateLimited = 0;
  budgetRefused = 0;
  tokensIn = 0;
  tokensOut = 0;
  tokensTotal = 0;
  cacheHit = 0;
  cacheMiss = 0;
  cacheBypass = 0;
  cacheRefresh = 0;
  readonly ttfb = new Uint32Array(LATENCY_BUCKETS);
  readonly total = new Uint32Array(LATENCY_BUCKETS);

  reset(minute: number): void {
    this.minute = minute;
    this.requests = this.s2xx = this.s3xx = this.s4xx = this.s5xx = this.timeouts = 0;
    this.rateLimited = this.budgetRefused = 0;
    this.tokensIn = this.tokensOut = this.tokensTotal = 0;
    this.cacheHit = this.cacheMiss = this.cacheBypass = this.cacheRefresh = 0;
    this.ttfb.fill(0);
    this.total.fill(0);
  }
}

export class MinuteRing {
  private readonly slots: MinuteSlot[] = Array.from({ length: MINUTES }, () => new MinuteSlot());

  /** The slot of the minute `nowMs` falls in, reset when it last held an older minute. */
  slot(nowMs: number): MinuteSlot {
    const minute = Math.floor(nowMs / MINUTE_MS);
    const s = this.slots[minute % MINUTES]!;
    if (s.minute !== minute) s.reset(minute);
    return s;
  }

  /** The slots of the last `n` minutes up to `nowMs` (oldest first); missing minutes are undefined. */
  recent(nowMs: number, n = MINUTES): (MinuteSlot | undefined)[] {
    const current = Math.floor(nowMs / MINUTE_MS);
    const out: (MinuteSlot | undefined)[] = [];
    for (let m = current - n + 1; m <= current; m++) {
      const s = this.slots[((m % MINUTES) + MINUTES) % MINUTES]!;
      out.push(s.minute === m ? s : undefined);
    }
    return out;
  }
}

export function minuteStart(minute: number): number {
  return minute * MINUTE_MS;
}
