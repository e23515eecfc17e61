/** The document the relay sends (src/dashboard/view.ts builds it; kept in step by the browser test). */
export interface TailEntry {
  seq: number;
  time: number;
  route: string | null;
  method: string;
  path: string;
  status: number;
  duration: number;
  ttfb: number | null;
  client: string | null;
  user: string | null;
  usage: { input: number; output: number; total: number; estimated?: boolean } | null;
  cache: string | null;
  outcome: string | null;
}

export interface RouteRow {
  route: string;
  rpm: number;
  requests: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  timeouts: number;
  ttfbP50: number | null;
  ttfbP95: number | null;
  totalP50: number | null;
  totalP95: number | null;
  tokens: number;
  rateLimited: number;
  budgetRefused: number;
}

export interface View {
  type: 'snapshot' | 'update';
  now: number;
  status: { version: string; startedAt: number; uptime: number; inFlight: number; openStreams: number; phase: string; ready: boolean; failing: string[]; disabled: string[] };
  routes: RouteRow[];
  series: { t: number[]; requests: number[]; p50: (number | null)[]; p95: (number | null)[]; ttfbP95: (number | null)[] };
  tail: TailEntry[];
  tailSeq: number;
  usage: { configured: boolean; rows: { who: string; kind: string; requests: number; input: number; output: number; total: number; budgetRefused: number }[] };
  budgets: { configured: boolean; refused: number; windows: { route: string; who: string; kind: string; limit: number; remaining: number; resetsAt: number }[] };
  pools: { route: string; keys: { alias: string; serving: boolean; restingUntil: number; lastError: { status: number; at: number } | null }[] }[];
  oauth: { route: string; expiresAt: number | null; lastRefreshAt: number | null; lastError: string | null }[];
  egress: { route: string; egress: string; lastError: { at: number; type: string; message: string } | null }[];
  refusals: { route: string; rateLimited: number; budgetRefused: number }[];
  cache: { configured: boolean; hit: number; miss: number; bypass: number; refresh: number; ratio: number | null };
}
