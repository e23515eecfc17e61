/**
 * The budget settings of one route table: the store (memory or Redis), the calendar time zone,
 * what to do when the store is down, and the clock. Shared by every budgeted route of the table
 * and by the usage endpoint.
 */
import type { BudgetsConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { BudgetStore } from './store.js';

export interface BudgetService {
  store: BudgetStore;
  timezone: string;
  onStoreError: 'closed' | 'open';
  /** Epoch ms. Tests inject a clock through StartOptions.budgetClock (relay.ts). */
  now: () => number;
  log: Logger;
  /** The store failed; reports once per outage. */
  storeFailed(err: unknown): void;
  /** A store call succeeded: the next failure is a new outage. */
  storeOk(): void;
  close(): Promise<void>;
}

export function createBudgetService(cfg: BudgetsConfig, store: BudgetStore, opts: { now: () => number; log: Logger }): BudgetService {
  let down = false;
  return {
    store,
    timezone: cfg.timezone,
    onStoreError: cfg.onStoreError,
    now: opts.now,
    log: opts.log,
    storeFailed(err) {
      if (down) return;
      down = true;
      opts.log.warn(
        { err: (err as Error).message, onStoreError: cfg.onStoreError },
        cfg.onStoreError === 'open'
          ? 'budget store unreachable: requests are served and counted nowhere until it is back (onStoreError: open)'
          : 'budget store unreachable: budgeted routes answer 503 budget_unavailable until it is back (onStoreError: closed)',
      );
    },
    storeOk() {
      if (!down) return;
      down = false;
      opts.log.info('budget store reachable again');
    },
    close: () => store.close(),
  };
}
