// The access log builds its line by hand (no pino object walk). It must be exactly the line
// pino would write for the same fields: same keys, order, omissions, escaping, base fields.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { Redactor } from '../../src/log/redact.js';
import { logAccess } from '../../src/server/access-log.js';
import type { Exchange } from '../../src/server/context.js';

function collector() {
  const lines: string[] = [];
  return { lines, destination: { write: (l: string) => void lines.push(l) } };
}

const withoutTime = (line: string) => line.replace(/,"time":"[^"]+"/, '');

function exchange(log: Exchange['log'], over: Partial<Exchange>): Exchange {
  return {
    requestId: 'afc5e211-79d3-44ff-a776-000000000219',
    method: 'POST',
    path: '/api/v1/chat/completions',
    query: '',
    route: { name: 'openai' },
    status: 200,
    start: performance.now() - 12.3456,
    upstreamStart: 10,
    upstreamHeadersAt: 21.254,
    bytesIn: 120,
    bytesOut: 4096,
    client: 'web',
    ip: '203.0.113.7',
    outcome: undefined,
    log,
    ...over,
  } as unknown as Exchange;
}

describe('access log line', () => {
  const cases: [string, Partial<Exchange>][] = [
    ['a normal exchange', {}],
    ['no route, no client, no upstream timing, an odd path', { route: undefined, client: undefined, upstreamHeadersAt: 0, status: 404, path: '/n"o\\pe/ü\u0001' }],
    ['an abnormal end (warn)', { status: 502, outcome: 'upstream refused the connection (ECONNREFUSED) at "api"' }],
    ['a query with a key', { method: 'GET', query: '?alt=sse&key=AIzaSECRETSECRET', path: '/gemini/v1beta/models' }],
  ];
  for (const base of [undefined, { worker: 2 }]) {
    for (const [name, over] of cases) {
      it(`${name}${base ? ', with base fields' : ''}: byte for byte what pino writes`, () => {
        const c = collector();
        const log = createLogger({ level: 'info', format: 'json', redactor: new Redactor(), destination: c.destination, ...(base ? { base } : {}) });
        const x = exchange(log, over);
        logAccess(x);
        expect(c.lines).toHaveLength(1);
        const ours = c.lines[0]!;
        const doc = JSON.parse(ours) as Record<string, unknown>;
        // The same fields through pino itself.
        const { msg, level, time: _t, worker: _w, ...fields } = doc; // base fields come from the logger
        (log[level as 'info'] as (o: object, m: string) => void)(fields, msg as string);
        expect(withoutTime(ours)).toBe(withoutTime(c.lines[1]!));
        expect(ours.endsWith('}\n')).toBe(true);
        expect(doc.path).not.toContain('AIzaSECRET');
        if (base) expect(doc.worker).toBe(2);
        if (name === 'an abnormal end (warn)') {
          expect(Object.keys(doc)).toEqual(['level', 'time', ...(base ? ['worker'] : []), 'req_id', 'method', 'path', 'route', 'status', 'dur_ms', 'upstream_ms', 'bytes_in', 'bytes_out', 'client', 'ip', 'outcome', 'msg']);
        }
      });
    }
  }

  it('a child logger goes through pino and keeps its bindings', () => {
    const c = collector();
    const log = createLogger({ level: 'info', format: 'json', redactor: new Redactor(), destination: c.destination }).child({ component: 'x' });
    logAccess(exchange(log, {}));
    const doc = JSON.parse(c.lines[0]!) as Record<string, unknown>;
    expect(doc.component).toBe('x');
    expect(doc.req_id).toBe('afc5e211-79d3-44ff-a776-000000000219');
    expect(doc.msg).toBe('POST /api/v1/chat/completions 200');
  });

  it('respects the level: a 200 at warn is not written, a 502 is', () => {
    const c = collector();
    const log = createLogger({ level: 'warn', format: 'json', redactor: new Redactor(), destination: c.destination });
    logAccess(exchange(log, {}));
    expect(c.lines).toHaveLength(0);
    logAccess(exchange(log, { status: 502, outcome: 'x' }));
    expect(JSON.parse(c.lines[0]!).level).toBe('warn');
  });

  it('scrubs configured secrets from the hand-built line too', () => {
    const c = collector();
    const log = createLogger({ level: 'info', format: 'json', redactor: new Redactor(['sk-live-0123456789']), destination: c.destination });
    logAccess(exchange(log, { outcome: 'upstream said: bad key sk-live-0123456789', status: 401 }));
    expect(c.lines[0]).not.toContain('sk-live-0123456789');
    expect(c.lines[0]).toContain('[redacted]');
  });
});
