/**
 * What other modules report to the metrics (transforms, credentials). Rate-limit rejections need
 * no call: the relay counts its own 429s when the exchange ends. A module gets a
 * MetricsSink from the relay (through CompileDeps) or uses `noopMetrics` when run on its own, so a
 * call site never branches on "are metrics on?". Every method is cheap: label children are bound
 * once per route and reused.
 */
export interface MetricsSink {
  /** A transform ran on a response: `ok` false when it failed and the original body was sent. */
  transformDone(route: string, ok: boolean, ms: number): void;
  /** An OAuth token fetch finished (`ok` false: the token endpoint failed). */
  tokenFetch(route: string, ok: boolean): void;
  /** Key `index` of a route's key pool was put to rest (401/403/429 from the upstream). */
  keyRested(route: string, index: number): void;
}

export const noopMetrics: MetricsSink = {
  transformDone() {},
  tokenFetch() {},
  keyRested() {},
};
