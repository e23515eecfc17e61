import { describe, expect, it } from 'vitest';
import { Semaphore, conversionSlots, defaultConversionSlots, setConversionConcurrency } from '../../src/transforms/semaphore.js';
import { availableParallelism } from 'node:os';

const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore', () => {
  it('never lets more than `size` run, and serves waiters in order', async () => {
    const s = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: Array<() => void> = [];
    const jobs = Array.from({ length: 6 }, (_, i) =>
      s.run(async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await new Promise<void>((r) => gates.push(r));
        running--;
      }),
    );
    await tick();
    expect(running).toBe(2);
    expect(s.waiting).toBe(4);
    while (gates.length || s.active) {
      gates.shift()?.();
      await tick();
    }
    await Promise.all(jobs);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s.active).toBe(0);
  });

  it('drops an aborted waiter without losing a slot, and releases on throw', async () => {
    const s = new Semaphore(1);
    const release = await s.acquire();
    const ac = new AbortController();
    const waiting = s.acquire(ac.signal);
    ac.abort(new Error('client gone'));
    await expect(waiting).rejects.toThrow('client gone');
    expect(s.waiting).toBe(0);
    release();
    release(); // double release is harmless
    expect(s.active).toBe(0);
    await expect(s.run(async () => { throw new Error('x'); })).rejects.toThrow('x');
    expect(s.active).toBe(0);
  });

  it('the process-wide instance is shared and leaves one CPU to the event loop by default', () => {
    expect(conversionSlots()).toBe(conversionSlots());
    expect(conversionSlots().size).toBe(Math.max(1, availableParallelism() - 1));
    expect([1, 2, 4, 8].map((n) => defaultConversionSlots(n))).toEqual([1, 1, 3, 7]);
  });

  it('the cap can be set (a new semaphore takes the next conversions) and reset to the default', () => {
    const before = conversionSlots();
    try {
      setConversionConcurrency(3);
      expect(conversionSlots()).not.toBe(before);
      expect(conversionSlots().size).toBe(3);
      expect(() => setConversionConcurrency(0)).toThrow(RangeError);
      expect(() => setConversionConcurrency(1.5)).toThrow(RangeError);
      expect(conversionSlots().size).toBe(3);
    } finally {
      setConversionConcurrency(undefined);
    }
    expect(conversionSlots().size).toBe(defaultConversionSlots());
  });
});
