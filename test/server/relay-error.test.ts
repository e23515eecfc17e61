/**
 * RelayError is the relay's answer to a client, not a fault: it is built without a stack trace
 * (capturing one was a third of the relay's own work on a refused request), and building one
 * leaves Error.stackTraceLimit as it was for every other error.
 */
import { describe, expect, it } from 'vitest';
import { errorBody, RelayError } from '../../src/errors.js';

describe('RelayError', () => {
  it('carries no stack frames, only its name and message', () => {
    const err = new RelayError('unauthorized', 'missing relay token');
    expect(err.stack).toBe('RelayError: missing relay token');
    expect(err).toBeInstanceOf(Error);
    expect(err.status).toBe(401);
    expect(JSON.parse(errorBody(err, 'api', 'req-1'))).toEqual({ error: { type: 'unauthorized', message: 'missing relay token', route: 'api', request_id: 'req-1' } });
  });

  it('keeps the stack of its cause, and leaves the stack trace limit alone', () => {
    const before = Error.stackTraceLimit;
    const cause = new Error('socket hang up');
    const err = new RelayError('upstream_unreachable', 'upstream api unreachable', { cause });
    expect(err.cause).toBe(cause);
    expect(cause.stack).toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error('plain').stack).toMatch(/\n\s+at /);
  });
});
