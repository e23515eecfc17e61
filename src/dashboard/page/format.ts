/** Number and time formatting for the page. */

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '–';
  if (v >= 10_000) return `${(v / 1000).toFixed(0)} s`;
  if (v >= 1000) return `${(v / 1000).toFixed(1)} s`;
  return `${Math.round(v)} ms`;
}

export function int(v: number): string {
  return v.toLocaleString('en-US');
}

export function clock(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${s % 60}s`;
  return `${s}s`;
}

/** "in 3m 10s" / "3m 10s ago" relative to `now`. */
export function relative(epochMs: number, now: number): string {
  const diff = Math.round((epochMs - now) / 1000);
  return diff >= 0 ? `in ${duration(diff)}` : `${duration(-diff)} ago`;
}

export function statusClass(status: number): string {
  return status >= 500 ? 's5' : status >= 400 ? 's4' : status >= 200 && status < 300 ? 's2' : '';
}
