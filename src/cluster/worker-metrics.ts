/**
 * Worker side of whole-relay metrics under --workers. A scrape can land on any worker; that worker
 * asks the primary, which collects every worker's registry (prom-client's cluster protocol) and
 * answers with the merged text. The worker's own registry is registered for that protocol here.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsSource } from '../metrics/endpoint.js';
import { isMessage, METRICS_REQ, METRICS_RES, type MetricsRequest, type MetricsResponse } from './messages.js';

export function clusterMetricsSource(registry: Registry, timeoutMs = 5000): MetricsSource {
  // Constructing one installs prom-client's reply listener in this worker (idempotent).
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let nextId = 0;
  const pending = new Map<number, { resolve(text: string): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
  process.on('message', (msg: unknown) => {
    if (!isMessage<MetricsResponse>(msg, METRICS_RES)) return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.text !== undefined) p.resolve(msg.text);
    else p.reject(new Error(msg.error ?? 'no metrics from the primary'));
  });
  return {
    contentType: registry.contentType,
    text() {
      return new Promise((resolve, reject) => {
        if (!process.send || !process.connected) return reject(new Error('not connected to the primary process'));
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`the primary process did not answer within ${timeoutMs}ms`));
        }, timeoutMs);
        timer.unref();
        pending.set(id, { resolve, reject, timer });
        const req: MetricsRequest = { type: METRICS_REQ, id };
        process.send(req);
      });
    },
  };
}
