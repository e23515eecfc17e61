/**
 * Label children bound once per route (and per status class × client for the request counter), so
 * recording an exchange is a Map lookup plus a few increments — no label objects built per request.
 */
import type { LeanCounter, LeanCounterSeries } from './lean-counter.js';
import type { LeanHistogram, LeanSeries } from './lean-histogram.js';

type CounterChild = LeanCounterSeries;
type HistogramChild = LeanSeries;

export interface SeriesMetrics {
  requests: LeanCounter;
  bytesIn: LeanCounter;
  bytesOut: LeanCounter;
  rateLimited: LeanCounter;
  upstream: LeanHistogram;
  overhead: LeanHistogram;
  duration: LeanHistogram;
  transforms: LeanCounter;
  transformTime: LeanHistogram;
  tokenFetches: LeanCounter;
  keyRests: LeanCounter;
  cacheRequests: LeanCounter;
}

const CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export class RouteSeries {
  readonly bytesIn: CounterChild;
  readonly bytesOut: CounterChild;
  readonly rateLimited: CounterChild;
  readonly upstream: HistogramChild;
  readonly overhead: HistogramChild;
  readonly duration: HistogramChild;
  private readonly byClass: Map<string, CounterChild>[] = CLASSES.map(() => new Map());
  private transformOk: CounterChild | undefined;
  private transformFailed: CounterChild | undefined;
  private transformTime: HistogramChild | undefined;
  private tokenOk: CounterChild | undefined;
  private tokenFailed: CounterChild | undefined;
  private readonly keys = new Map<number, CounterChild>();
  private readonly cacheResults = new Map<string, CounterChild>();

  constructor(
    private readonly m: SeriesMetrics,
    private readonly route: string,
  ) {
    this.bytesIn = m.bytesIn.labels(route);
    this.bytesOut = m.bytesOut.labels(route);
    this.rateLimited = m.rateLimited.labels(route);
    this.upstream = m.upstream.labels(route);
    this.overhead = m.overhead.labels(route);
    this.duration = m.duration.labels(route);
  }

  /** The request counter child for a status and client name (bound on first use). */
  request(status: number, client: string | undefined): CounterChild {
    const c = status >= 100 && status < 600 ? (status / 100) | 0 : 0;
    const map = this.byClass[c]!;
    const who = client ?? '-';
    let child = map.get(who);
    if (!child) {
      child = this.m.requests.labels(this.route, CLASSES[c]!, who);
      map.set(who, child);
    }
    return child;
  }

  transform(ok: boolean, seconds: number): void {
    if (ok) (this.transformOk ??= this.m.transforms.labels(this.route, 'ok')).inc();
    else (this.transformFailed ??= this.m.transforms.labels(this.route, 'failed')).inc();
    (this.transformTime ??= this.m.transformTime.labels(this.route)).observe(seconds);
  }

  token(ok: boolean): void {
    if (ok) (this.tokenOk ??= this.m.tokenFetches.labels(this.route, 'ok')).inc();
    else (this.tokenFailed ??= this.m.tokenFetches.labels(this.route, 'failed')).inc();
  }

  /** The cache result counter child (hit, miss, bypass, refresh), bound on first use. */
  cache(result: string): CounterChild {
    let child = this.cacheResults.get(result);
    if (!child) {
      child = this.m.cacheRequests.labels(this.route, result);
      this.cacheResults.set(result, child);
    }
    return child;
  }

  keyRested(index: number): void {
    let child = this.keys.get(index);
    if (!child) {
      child = this.m.keyRests.labels(this.route, String(index));
      this.keys.set(index, child);
    }
    child.inc();
  }
}
