/**
 * prom-client, imported on demand (it and its optional OpenTelemetry import are ~90 modules; a
 * relay without a metrics endpoint never needs them). relay-metrics.ts builds its registry with
 * whatever this returns.
 */
import { cjsExports } from '../util/cjs-interop.js';

export type PromClient = typeof import('prom-client');

let loaded: PromClient | undefined;
let loading: Promise<PromClient> | undefined;

export function loadPromClient(): Promise<PromClient> {
  loading ??= import('prom-client').then((m) => (loaded = cjsExports<PromClient>(m)));
  return loading;
}

/** prom-client if loadPromClient() has resolved, else undefined. */
export function promClient(): PromClient | undefined {
  return loaded;
}
