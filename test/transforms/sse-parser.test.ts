import { describe, expect, it } from 'vitest';
import { SseParser, parseEvent, replaceEventData, type SseItem } from '../../src/transforms/sse-parser.js';

function collect(input: Buffer, cuts: number[], maxEvent = 1 << 30) {
  const items: SseItem[] = [];
  let oversize = 0;
  const p = new SseParser(maxEvent, (i) => items.push(i), () => oversize++);
  let last = 0;
  for (const c of [...cuts, input.length]) {
    p.push(input.subarray(last, c));
    last = c;
  }
  p.end();
  return { items, oversize, events: items.filter((i) => i.kind === 'event').map((i) => i.raw.toString()) };
}

const STREAM = 'data: {"a":1}\r\n\r\n: keep-alive\r\n\r\nevent: x\r\nid: 7\r\ndata: {"b":\r\ndata: 2}\r\n\r\ndata: plain\n\ndata: cr\r\rdata: tail-without-end';

describe('SseParser', () => {
  it('splits events and keeps every byte, at every single cut position', () => {
    const input = Buffer.from(STREAM);
    const whole = collect(input, []);
    expect(whole.events).toEqual([
      'data: {"a":1}\r\n\r\n',
      ': keep-alive\r\n\r\n',
      'event: x\r\nid: 7\r\ndata: {"b":\r\ndata: 2}\r\n\r\n',
      'data: plain\n\n',
      'data: cr\r\r',
    ]);
    for (let cut = 1; cut < input.length; cut++) {
      const r = collect(input, [cut]);
      expect(Buffer.concat(r.items.map((i) => i.raw)).toString()).toBe(STREAM);
      // The same events whatever the cut. An event is dispatched at once when its blank line is a
      // CR that ends the chunk (no waiting for the next chunk); the LF of that CRLF then follows raw.
      const merged: string[] = [];
      for (const it of r.items) {
        if (it.kind === 'event') merged.push(it.raw.toString());
        else if (it.raw.toString() === '\n' && merged.length && merged.at(-1)!.endsWith('\r')) merged[merged.length - 1] += '\n';
      }
      expect(merged).toEqual(whole.events);
    }
  });

  it('handles one byte per chunk', () => {
    const input = Buffer.from(STREAM);
    const r = collect(input, Array.from({ length: input.length - 1 }, (_, i) => i + 1));
    expect(Buffer.concat(r.items.map((i) => i.raw)).toString()).toBe(STREAM);
    expect(r.events).toHaveLength(5);
  });

  it('does not take the LF of a CRLF split across chunks for a blank line', () => {
    const r = collect(Buffer.from('data: 1\r\ndata: 2\r\n\r\n'), [8]);
    expect(r.events).toEqual(['data: 1\r\ndata: 2\r\n\r\n']);
  });

  it('carries a multi-megabyte single-line event whole, with no line limit', () => {
    const big = 'x'.repeat(8 * 1024 * 1024);
    const input = Buffer.from(`data: {"v":"${big}"}\n\ndata: {"after":1}\n\n`);
    const cuts = Array.from({ length: 100 }, (_, i) => Math.floor(((i + 1) * input.length) / 101));
    const start = performance.now();
    const r = collect(input, cuts);
    const ms = performance.now() - start;
    expect(r.events).toHaveLength(2);
    expect(r.events[0]!.length).toBe(big.length + 16);
    expect(ms).toBeLessThan(2000); // linear, not quadratic in the line length
  });

  it('forwards an over-cap event raw as it arrives and resumes after it', () => {
    const input = Buffer.from(`data: ${'y'.repeat(100)}\n\ndata: {"ok":1}\n\n`);
    const r = collect(input, [20, 50, 80], 40);
    expect(r.oversize).toBe(1);
    expect(Buffer.concat(r.items.map((i) => i.raw)).toString()).toBe(input.toString());
    expect(r.events).toEqual(['data: {"ok":1}\n\n']);
    expect(r.items.filter((i) => i.kind === 'raw').length).toBeGreaterThan(1);
  });
});

describe('parseEvent / replaceEventData', () => {
  it('joins data lines with LF and reads event and id', () => {
    expect(parseEvent('event: x\r\nid: 7\r\ndata: {"b":\r\ndata:2}\r\n\r\n')).toEqual({ data: '{"b":\n2}', name: 'x', id: '7' });
    expect(parseEvent(': comment\n\n').data).toBeUndefined();
  });

  it('replaces data in place, keeping other lines and the line ending', () => {
    expect(replaceEventData('event: x\r\n: c\r\ndata: a\r\ndata: b\r\nid: 1\r\n\r\n', '{"n":1}')).toBe('event: x\r\n: c\r\ndata: {"n":1}\r\nid: 1\r\n\r\n');
    expect(replaceEventData('data: a\n\n', 'l1\nl2')).toBe('data: l1\ndata: l2\n\n');
  });
});
