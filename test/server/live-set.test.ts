import { describe, expect, it } from 'vitest';
import { LiveSet } from '../../src/server/live-set.js';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ i }));

describe('LiveSet', () => {
  it('adds, finds and deletes items in any order', () => {
    const s = new LiveSet<{ i: number }>();
    const xs = items(6);
    for (const x of xs) s.add(x);
    expect(s.size).toBe(6);
    // Delete from the middle, the end and the start: the swapped-in items must stay findable.
    expect(s.delete(xs[2]!)).toBe(true);
    expect(s.delete(xs[5]!)).toBe(true);
    expect(s.delete(xs[0]!)).toBe(true);
    expect(s.size).toBe(3);
    for (const x of xs) expect(s.has(x)).toBe([1, 3, 4].includes(x.i));
    expect([...s].map((x) => x.i).sort()).toEqual([1, 3, 4]);
    for (const x of [xs[1]!, xs[3]!, xs[4]!]) expect(s.delete(x)).toBe(true);
    expect(s.size).toBe(0);
    expect([...s]).toEqual([]);
  });

  it('ignores a second add and a delete of an unknown or removed item', () => {
    const s = new LiveSet<{ i: number }>();
    const [a, b] = items(2) as [{ i: number }, { i: number }];
    s.add(a);
    s.add(a);
    expect(s.size).toBe(1);
    expect(s.delete(b)).toBe(false);
    expect(s.delete(a)).toBe(true);
    expect(s.delete(a)).toBe(false);
    expect(s.has(a)).toBe(false);
    s.add(a);
    expect(s.has(a)).toBe(true);
  });

  it('lets one object live in two sets independently', () => {
    const s1 = new LiveSet<{ i: number }>();
    const s2 = new LiveSet<{ i: number }>();
    const xs = items(3);
    for (const x of xs) s1.add(x);
    s2.add(xs[2]!);
    expect(s2.has(xs[2]!)).toBe(true);
    expect(s2.has(xs[0]!)).toBe(false);
    s1.delete(xs[0]!); // moves xs[2] within s1 only
    expect(s2.has(xs[2]!)).toBe(true);
    expect(s1.has(xs[2]!)).toBe(true);
    expect(s2.delete(xs[2]!)).toBe(true);
    expect(s1.has(xs[2]!)).toBe(true);
  });

  it('iterates a copy, so items may finish while a caller walks the set', () => {
    const s = new LiveSet<{ i: number }>();
    for (const x of items(5)) s.add(x);
    const seen: number[] = [];
    for (const x of s) {
      seen.push(x.i);
      s.delete(x);
    }
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(s.size).toBe(0);
  });

  it('stays consistent through random churn', () => {
    const s = new LiveSet<{ i: number }>();
    const model = new Set<{ i: number }>();
    const pool = items(50);
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let step = 0; step < 5000; step++) {
      const x = pool[Math.floor(rnd() * pool.length)]!;
      if (rnd() < 0.5) {
        s.add(x);
        model.add(x);
      } else expect(s.delete(x)).toBe(model.delete(x));
      expect(s.size).toBe(model.size);
    }
    for (const x of pool) expect(s.has(x)).toBe(model.has(x));
  });
});
