/**
 * A counter for the per-exchange hot path: like lean-histogram.ts, a series is bound per label set
 * once and `inc` is one addition (prom-client's Counter child hashes its labels on every call). It
 * registers in a prom-client Registry as a custom metric, so exposition and --workers aggregation
 * (summed) are prom-client's.
 */
import { LeanMetric } from './lean-metric.js';

export interface LeanCounterSeries {
  inc(by?: number): void;
}

class Series implements LeanCounterSeries {
  value = 0;
  constructor(readonly labels: Record<string, string>) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class LeanCounter extends LeanMetric<Series> {
  readonly type = 'counter';

  protected makeSeries(labels: Record<string, string>): Series {
    return new Series(labels);
  }

  get() {
    const values = [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.series.values()) s.value = 0;
  }
}
