/** IPC between the --workers primary and its workers (plain objects over the cluster channel). */
export const METRICS_REQ = 'ai-relay:metrics-req';
export const METRICS_RES = 'ai-relay:metrics-res';

export interface MetricsRequest {
  type: typeof METRICS_REQ;
  id: number;
}

export interface MetricsResponse {
  type: typeof METRICS_RES;
  id: number;
  text?: string;
  error?: string;
}

export function isMessage<T extends { type: string }>(msg: unknown, type: T['type']): msg is T {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === type;
}
