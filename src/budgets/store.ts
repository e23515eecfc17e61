/**
 * What a budget store does: place holds on several budget keys at once (all or none), settle
 * them with real usage, and report spend. Both stores keep, per key, the settled spend `used` and
 * the holds in flight, each with its own expiry, so a relay that crashed mid-request leaks nothing.
 */
export interface HoldLine {
  /** Store key (see keys.ts). */
  key: string;
  limit: number;
  /** Tokens wanted for the hold, or 1 for a requests budget. */
  amount: number;
  /** A requests budget: counted at admission for good, never settled. */
  requests: boolean;
  /** Epoch ms when the window ends: the key may go after that. */
  expireAt: number;
}

export interface LineState {
  /** Settled spend (requests: admitted requests, this one included). */
  used: number;
  /** Held by requests in flight (this one's hold included). */
  held: number;
}

export type HoldOutcome =
  /** Every budget had room; `hold` is what this request holds on each (capped by the room left). */
  | { ok: true; lines: (LineState & { hold: number })[] }
  /** Budget `index` had no room (used + held ≥ limit): nothing was held anywhere. */
  | { ok: false; index: number; used: number; held: number };

export interface SettleLine {
  key: string;
  /** What the request really cost (or its hold, when usage never came). */
  charge: number;
  expireAt: number;
}

export interface BudgetStore {
  hold(id: string, lines: HoldLine[], holdTtlMs: number): Promise<HoldOutcome>;
  settle(id: string, lines: SettleLine[]): Promise<void>;
  peek(keys: string[]): Promise<LineState[]>;
  close(): Promise<void>;
}
