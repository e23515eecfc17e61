/**
 * A counting semaphore. Image conversions take one slot each from a single process-wide instance,
 * so a burst of image responses cannot occupy every libuv/libvips thread while small requests on
 * other routes wait (issue #5, reliability R-25).
 */
import { availableParallelism } from 'node:os';

export class Semaphore {
  private inUse = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`semaphore size must be a positive integer, got ${size}`);
  }

  get active(): number {
    return this.inUse;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function; rejects if `signal` aborts while still waiting. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.inUse < this.size) {
      this.inUse++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.releaser());
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // The slot passes straight to the next waiter, so a late acquire cannot jump the queue.
      if (next) next();
      else this.inUse--;
    };
  }
}

/**
 * Default cap: one conversion per CPU but one, at least 1. On a 2-vCPU VPS two conversions would
 * keep both cores busy and the event loop would queue behind them (issue #8: small-request p99
 * 4.6 → 36 ms); leaving a core free keeps proxying responsive at the cost of image throughput.
 */
export function defaultConversionSlots(cpus = availableParallelism()): number {
  return Math.max(1, cpus - 1);
}

let conversions: Semaphore | undefined;
let configured: number | undefined;

/** The process-wide cap on image conversions in flight. Created on first use. */
export function conversionSlots(): Semaphore {
  conversions ??= new Semaphore(configured ?? defaultConversionSlots());
  return conversions;
}

/**
 * Sets the cap (e.g. from config at startup). Conversions already in flight keep their slots; a
 * new semaphore takes the following ones. undefined restores the default.
 */
export function setConversionConcurrency(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1)) throw new RangeError(`image conversion concurrency must be a positive integer, got ${n}`);
  if (n === configured && conversions) return;
  configured = n;
  conversions = undefined;
}
