import { describe, expect, it } from 'vitest';
import { Semaphore, conversionSlots } from '../../src/transforms/semaphore.js';
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

  it('the process-wide instance is shared and sized by CPU count', () => {
    expect(conversionSlots()).toBe(conversionSlots());
    expect(conversionSlots().size).toBe(availableParallelism());
  });
});
