/**
 * The access line of a JWT client's exchange (spec §11): `user` right after `client`, written by
 * the hand-built line exactly as pino would write it, and no JWT in a logged query string.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { Redactor, redactQuery } from '../../src/log/redact.js';
import { logAccess } from '../../src/server/access-log.js';
import type { Exchange } from '../../src/server/context.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLWJ5dGVz';

function collector() {
  const lines: string[] = [];
  return { lines, destination: { write: (l: string) => void lines.push(l) } };
}

function exchange(log: Exchange['log'], over: Partial<Exchange>): Exchange {
  return {
    requestId: 'req-1',
    method: 'GET',
    path: '/api/v1/models',
    query: '',
    route: { name: 'api' },
    status: 200,
    start: performance.now() - 5,
    upstreamStart: 1,
    upstreamHeadersAt: 3,
    bytesIn: 0,
    bytesOut: 10,
    client: 'site',
    user: 'user "1" ü',
    ip: '203.0.113.7',
    outcome: undefined,
    log,
    ...over,
  } as unknown as Exchange;
}

describe('access line with a user', () => {
  it('has client then user, byte for byte what pino writes', () => {
    const c = collector();
    const log = createLogger({ level: 'info', format: 'json', redactor: new Redactor(), destination: c.destination });
    logAccess(exchange(log, {}));
    const ours = c.lines[0]!;
    const doc = JSON.parse(ours) as Record<string, unknown>;
    expect(doc).toMatchObject({ client: 'site', user: 'user "1" ü' });
    expect(Object.keys(doc).slice(-4)).toEqual(['client', 'user', 'ip', 'msg']);
    const { msg, level, time: _t, ...fields } = doc;
    (log[level as 'info'] as (o: object, m: string) => void)(fields, msg as string);
    const noTime = (l: string) => l.replace(/,"time":"[^"]+"/, '');
    expect(noTime(ours)).toBe(noTime(c.lines[1]!));
  });

  it('has no user key when there is none', () => {
    const c = collector();
    const log = createLogger({ level: 'info', format: 'json', redactor: new Redactor(), destination: c.destination });
    logAccess(exchange(log, { user: undefined }));
    expect(JSON.parse(c.lines[0]!)).not.toHaveProperty('user');
  });

  it('a JWT in the query string never reaches the line, whatever the parameter name', () => {
    for (const q of [`?access_token=${JWT}`, `?jwt=${JWT}&x=1`, `?session=${JWT}`, `?a=1&id_token=${JWT}`]) {
      const c = collector();
      const log = createLogger({ level: 'info', format: 'json', redactor: new Redactor(), destination: c.destination });
      logAccess(exchange(log, { query: q, status: 401, client: undefined, user: undefined }));
      expect(c.lines[0]).not.toContain('c2lnbmF0dXJl');
      expect(c.lines[0]).not.toContain('eyJzdWIi');
      expect(c.lines[0]).toContain('[redacted]');
    }
    expect(redactQuery('?alt=sse&x=eyJ')).toBe('?alt=sse&x=eyJ');
  });
});
