/**
 * Durations and sizes as people write them in YAML: `500ms`, `30s`, `10m`, `2h`; `512kb`, `50mb`.
 * A bare number is milliseconds (durations) or bytes (sizes), so `${TIMEOUT:-30000}` also works.
 */
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i;
const DURATION_UNIT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const m = DURATION_RE.exec(input.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNIT[(m[2] ?? 'ms').toLowerCase()]!);
}

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|kb|k|mb|m|gb|g)?$/i;
const SIZE_UNIT: Record<string, number> = { b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

export function parseSize(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const m = SIZE_RE.exec(input.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_UNIT[(m[2] ?? 'b').toLowerCase()]!);
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function formatSize(bytes: number): string {
  if (bytes % 1024 ** 2 === 0 && bytes > 0) return `${bytes / 1024 ** 2}mb`;
  if (bytes % 1024 === 0 && bytes > 0) return `${bytes / 1024}kb`;
  return `${bytes}b`;
}

/**
 * Token and request counts as people write them: `4096`, `200k`, `20M`, `1.5m`, `2G`. Decimal
 * (k = 1 000), unlike sizes: budgets are compared with providers' prices per thousand/million.
 */
const COUNT_RE = /^(\d+(?:\.\d+)?)\s*([kmg])?$/i;
const COUNT_UNIT: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9 };

export function parseCount(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  const m = COUNT_RE.exec(input.trim());
  if (!m) return undefined;
  const n = Math.round(Number(m[1]) * COUNT_UNIT[(m[2] ?? '').toLowerCase()]!);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function formatCount(n: number): string {
  if (n >= 1e6 && n % 1e6 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 1e3 === 0) return `${n / 1e3}k`;
  return String(n);
}
