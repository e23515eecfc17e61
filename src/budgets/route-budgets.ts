/**
 * The budgets of one route: admission (hold) before forwarding and settlement when the exchange
 * ends (spec §12).
 *
 * Admission asks the store, in one atomic step, for a hold on every applicable budget: a request
 * is admitted while each has room (used + held < limit), and its hold on each is capped by that
 * room — so N parallel requests spend at most the limit plus what their real usage exceeded their
 * holds by. A requests budget counts the admission itself. Refused: 429 budget_exceeded with
 * `X-Should-Retry: false`, because the official SDKs otherwise retry a 429 and sleep the whole
 * Retry-After.
 *
 * Settlement replaces each hold by what the request really used; with no usage it charges the
 * hold (the log then says `usage: estimated`), unless nothing can have been spent (the upstream
 * refused with an error status, or was never reached).
 */
import { randomBytes } from 'node:crypto';
import type { BudgetConfig } from '../config/schema.js';
import { formatCount } from '../config/units.js';
import { RelayError } from '../errors.js';
import type { Usage } from '../usage/usage.js';
import { budgetCallerId, type Caller } from './caller.js';
import { holdFor, type SpendEstimate } from './estimate.js';
import { budgetKey } from './keys.js';
import type { BudgetService } from './service.js';
import type { HoldLine } from './store.js';
import { windowAt } from './window.js';

export interface BudgetLine {
  budget: BudgetConfig;
  unit: 'tokens' | 'requests';
  limit: number;
  key: string;
  /** Window end, epoch ms. */
  end: number;
}

export interface BudgetTicket {
  /** Some budget counts tokens (only those are settled; requests count at admission). */
  readonly countsTokens: boolean;
  /** X-Budget-* for the budget with the least room left (this request's hold counted). */
  headers: Record<string, string>;
  /** Ends the hold: real usage, or the hold itself when `usage` is undefined and `charge` says so. */
  settle(usage: Usage | undefined, chargeHold: boolean): void;
}

/** Unique per hold, unlike request ids (a client may send the same X-Request-Id twice). */
let holdSeq = 0;
let holdPrefix: string | undefined;
const nextHoldId = () => `${(holdPrefix ??= randomBytes(6).toString('hex'))}${(holdSeq++).toString(36)}`;

export class RouteBudgets {
  /**
   * The current window of each budget, reused until it ends: computing a calendar window in a
   * time zone costs ~40 µs of Intl work, a lookup costs nothing. `from` guards a clock that went
   * back (tests inject one).
   */
  private readonly windows: ({ id: string; end: number; from: number } | undefined)[] = [];

  constructor(
    readonly route: string,
    readonly budgets: BudgetConfig[],
    private readonly service: BudgetService,
    /** Holds expire on their own after this (a crashed relay leaks nothing). */
    private readonly holdTtlMs: number,
  ) {}

  /** True when some budget counts tokens (include_usage injection is worth it). */
  get countsTokens(): boolean {
    return this.budgets.some((b) => b.tokens !== undefined);
  }

  lines(caller: Caller, now = this.service.now()): BudgetLine[] {
    return this.budgets.map((b, i) => {
      let w = this.windows[i];
      if (!w || now >= w.end || now < w.from) {
        w = { ...windowAt(b.per, now, this.service.timezone), from: now };
        this.windows[i] = w;
      }
      return {
        budget: b,
        unit: b.tokens !== undefined ? 'tokens' : 'requests',
        limit: b.tokens ?? b.requests!,
        key: budgetKey(this.route, b.by, budgetCallerId(b.by, caller), w.id),
        end: w.end,
      };
    });
  }

  /**
   * A ticket (admitted and held), a RelayError (429 budget_exceeded or 503 budget_unavailable),
   * or undefined (store down with onStoreError: open — served and counted nowhere).
   */
  async admit(caller: Caller, estimate: SpendEstimate, requestId: string): Promise<BudgetTicket | RelayError | undefined> {
    const svc = this.service;
    const now = svc.now();
    const lines = this.lines(caller, now);
    const holds: HoldLine[] = lines.map((l) => ({
      key: l.key,
      limit: l.limit,
      amount: l.unit === 'requests' ? 1 : holdFor(estimate, l.budget.count, l.budget.hold),
      requests: l.unit === 'requests',
      expireAt: l.end,
    }));
    const id = nextHoldId();
    let outcome;
    try {
      outcome = await svc.store.hold(id, holds, this.holdTtlMs);
      svc.storeOk();
    } catch (err) {
      svc.storeFailed(err);
      if (svc.onStoreError === 'open') return undefined;
      return new RelayError('budget_unavailable', `the budget store is unavailable, so route ${this.route} cannot check its budgets (onStoreError: closed)`, { headers: { 'retry-after': '5' } });
    }
    if (!outcome.ok) {
      const l = lines[outcome.index]!;
      const used = outcome.used + outcome.held;
      const resetIn = Math.max(1, Math.ceil((l.end - now) / 1000));
      const resetsAt = new Date(l.end).toISOString();
      return new RelayError(
        'budget_exceeded',
        `budget of route ${this.route} exhausted: ${formatCount(l.limit)} ${l.unit} per ${perText(l.budget.per)} by ${l.budget.by}; resets at ${resetsAt}`,
        {
          headers: {
            'retry-after': String(resetIn),
            'x-should-retry': 'false',
            'x-budget-limit': String(l.limit),
            'x-budget-remaining': String(Math.max(0, l.limit - used)),
            'x-budget-reset': String(resetIn),
          },
          details: { limit: l.limit, used, resets_at: resetsAt },
        },
      );
    }
    // The tightest budget: least room left once this request's hold is counted.
    let tight = 0;
    let tightRoom = Infinity;
    outcome.lines.forEach((s, i) => {
      const room = lines[i]!.limit - s.used - s.held;
      if (room < tightRoom) {
        tightRoom = room;
        tight = i;
      }
    });
    const tl = lines[tight]!;
    const headers = {
      'x-budget-limit': String(tl.limit),
      'x-budget-remaining': String(Math.max(0, tightRoom)),
      'x-budget-reset': String(Math.max(1, Math.ceil((tl.end - now) / 1000))),
    };
    const tokenLines = lines.map((l, i) => ({ l, hold: outcome.lines[i]!.hold })).filter((e) => e.l.unit === 'tokens');
    let settled = false;
    return {
      headers,
      countsTokens: tokenLines.length > 0,
      settle: (usage, chargeHold) => {
        if (settled || tokenLines.length === 0) return;
        settled = true;
        const settle = tokenLines.map(({ l, hold }) => ({
          key: l.key,
          expireAt: l.end,
          charge: usage ? usage[l.budget.count] : chargeHold ? hold : 0,
        }));
        svc.store.settle(id, settle).then(
          () => svc.storeOk(),
          (err: unknown) => {
            // The hold expires by itself; the request's real cost is lost to this outage.
            svc.storeFailed(err);
            svc.log.debug({ req_id: requestId, err: (err as Error).message }, 'budget settle failed');
          },
        );
      },
    };
  }
}

function perText(per: BudgetConfig['per']): string {
  if (typeof per !== 'number') return per;
  const h = per / 3_600_000;
  return Number.isInteger(h) ? `${h}h` : `${Math.round(per / 1000)}s`;
}
