/**
 * A counter for the per-exchange hot path: like lean-histogram.ts, a series is bound per label set
 * once and `inc` is one addition (prom-client's Counter child hashes its labels on every call). It
 * registers in a prom-client Registry as a custom metric, so exposition and --workers aggregation
 * (summed) are prom-client's.
 */
import type { Registry } from 'prom-client';

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

export class LeanCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Pick<Registry, 'registerMetric'>,
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The series for these label values (in labelNames order); bind it once and keep it. */
  labels(...values: string[]): LeanCounterSeries {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      s = new Series(labels);
      this.series.set(key, s);
    }
    return s;
  }

  get() {
    const values = [...this.series.values()].map((s) => ({ labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.series.values()) s.value = 0;
  }
}
