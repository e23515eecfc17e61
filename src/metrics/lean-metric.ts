/**
 * What lean-counter.ts and lean-histogram.ts share: one series per label set, bound once and
 * kept by the caller, and registration in a prom-client Registry as a custom metric (so
 * exposition and --workers aggregation are prom-client's).
 */
import type { Registry } from 'prom-client';

export abstract class LeanMetric<S extends { labels: Record<string, string> }> {
  readonly aggregator = 'sum';
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly string[],
    registry: Pick<Registry, 'registerMetric'>,
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  protected abstract makeSeries(labels: Record<string, string>): S;

  /** The series for these label values (in labelNames order); bind it once and keep it. */
  labels(...values: string[]): S {
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ''));
      s = this.makeSeries(labels);
      this.series.set(key, s);
    }
    return s;
  }
}
