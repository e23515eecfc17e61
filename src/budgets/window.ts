/**
 * Budget windows. `day`, `week` (Monday to Monday) and `month` are calendar periods in an IANA
 * time zone, computed with Intl (no tz library); a duration is a fixed window aligned to the
 * epoch, the same on every relay. A request is charged to the window it was admitted in.
 */
export type BudgetPer = 'day' | 'week' | 'month' | number;

export interface BudgetWindow {
  /** Stable id of the window, part of the store key (`d2026-12-06`, `w2026-12-07`, `m2026-12`, `3600000ms491234`). */
  id: string;
  /** Epoch ms at which the window ends (the next one starts). */
  end: number;
}

interface Parts {
  y: number;
  m: number;
  d: number;
  /** 0 = Monday … 6 = Sunday. */
  dow: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(tz, f);
  }
  return f;
}

/** Wall-clock fields of `ms` in `tz`, as a UTC timestamp (to measure the zone's offset). */
function wallClock(ms: number, tz: string): number {
  if (tz === 'UTC' || tz === 'Etc/UTC') return Math.floor(ms / 1000) * 1000;
  const p: Record<string, number> = {};
  for (const { type, value } of formatter(tz).formatToParts(ms)) if (type !== 'literal') p[type] = Number(value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

function localDate(ms: number, tz: string): Parts {
  const w = new Date(wallClock(ms, tz));
  return { y: w.getUTCFullYear(), m: w.getUTCMonth() + 1, d: w.getUTCDate(), dow: (w.getUTCDay() + 6) % 7 };
}

/** Epoch ms of local midnight on y-m-d (overflowing days/months roll over) in `tz`. */
export function localMidnight(y: number, m: number, d: number, tz: string): number {
  const wall = Date.UTC(y, m - 1, d);
  // The offset at the guess, then once more at the corrected instant (DST changes near midnight).
  let t = wall - (wallClock(wall, tz) - wall);
  t = wall - (wallClock(t, tz) - t);
  return t;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export function windowAt(per: BudgetPer, now: number, tz: string): BudgetWindow {
  if (typeof per === 'number') {
    const index = Math.floor(now / per);
    return { id: `${per}ms${index}`, end: (index + 1) * per };
  }
  const p = localDate(now, tz);
  if (per === 'day') return { id: `d${p.y}-${pad(p.m)}-${pad(p.d)}`, end: localMidnight(p.y, p.m, p.d + 1, tz) };
  if (per === 'week') {
    const monday = new Date(Date.UTC(p.y, p.m - 1, p.d - p.dow));
    const y = monday.getUTCFullYear();
    const m = monday.getUTCMonth() + 1;
    const d = monday.getUTCDate();
    return { id: `w${y}-${pad(m)}-${pad(d)}`, end: localMidnight(y, m, d + 7, tz) };
  }
  return { id: `m${p.y}-${pad(p.m)}`, end: localMidnight(p.y, p.m + 1, 1, tz) };
}
