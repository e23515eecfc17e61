/**
 * §13 streams: an SSE answer is recorded while it streams and stored only after a clean end;
 * a hit replays the same bytes as one text/event-stream answer. Stream and non-stream requests
 * have different bodies, so different entries. `stream: bypass` never stores a stream.
 */
import type http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { cachedRoute, call, countingUpstream, open, sleep, waitFor, WEB, type CountingUpstream } from './helpers.js';

const EVENTS = ['data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n', 'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n', 'data: [DONE]\n\n'];

function sse(res: http.ServerResponse, events: string[], end: 'end' | 'reset' | 'hold' = 'end', gapMs = 5): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'up-1' });
  res.flushHeaders();
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i < events.length) {
      res.write(events[i++]);
      setTimeout(next, gapMs);
    } else if (end === 'end') res.end();
    else if (end === 'reset') res.socket?.destroy();
  };
  next();
}

describe('response cache: server-sent events', () => {
  let up: CountingUpstream;
  let relay: TestRelay;
  let bypass: TestRelay;
  const body = (tag: string, stream = true) => JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: tag }] });

  beforeAll(async () => {
    up = await countingUpstream();
    const cache = `      paths: ["/v1/chat/completions"]
      methods: [POST]`;
    relay = await startTestRelay(cachedRoute(up.url, cache));
    bypass = await startTestRelay(cachedRoute(up.url, cache + '\n      stream: bypass'));
  });
  afterAll(async () => {
    await relay.close();
    await bypass.close();
    await up.close();
  });
  beforeEach(() => {
    up.calls.length = 0;
  });

  const post = (r: TestRelay, b: string) => call(r.url, '/api/v1/chat/completions', { headers: WEB, body: b });

  it('stores a stream that ended with [DONE] and replays the same bytes at once', async () => {
    up.handler = (_req, res, b) => (JSON.parse(b).stream ? sse(res, EVENTS) : res.writeHead(200, { 'content-type': 'application/json' }).end('{"whole":true}'));
    const a = await post(relay, body('done'));
    expect(a.headers['x-relay-cache']).toBe('MISS');
    expect(a.body).toBe(EVENTS.join(''));
    const b = await post(relay, body('done'));
    expect(b.headers['x-relay-cache']).toBe('HIT');
    expect(b.body).toBe(a.body);
    expect(b.headers['content-type']).toBe('text/event-stream');
    expect(b.headers['cache-control']).toBe('no-cache, no-transform');
    expect(b.headers['x-accel-buffering']).toBe('no');
    expect(b.headers['x-request-id']).not.toBe('up-1');
    // The same prompt without "stream": a different body, a different entry.
    const c = await post(relay, body('done', false));
    expect(c.headers['x-relay-cache']).toBe('MISS');
    expect(c.body).toBe('{"whole":true}');
    expect(up.count()).toBe(2);
  });

  it('stores a stream closed cleanly after a final event without [DONE] (Gemini)', async () => {
    up.handler = (_req, res) => sse(res, ['data: {"candidates":[{"finishReason":"STOP"}]}\r\n\r\n']);
    await post(relay, body('gemini'));
    expect((await post(relay, body('gemini'))).headers['x-relay-cache']).toBe('HIT');
    expect(up.count()).toBe(1);
  });

  it('does not store a stream cut mid-event by a clean close', async () => {
    up.handler = (_req, res) => sse(res, ['data: {"a":1}\n\n', 'data: {"partial"']);
    await post(relay, body('partial'));
    expect((await post(relay, body('partial'))).headers['x-relay-cache']).toBe('MISS');
  });

  it('does not store a stream with an error event or a data error object', async () => {
    up.handler = (_req, res) => sse(res, ['data: {"a":1}\n\n', 'event: error\ndata: {"message":"overloaded"}\n\n', 'data: [DONE]\n\n']);
    await post(relay, body('err-event'));
    expect((await post(relay, body('err-event'))).headers['x-relay-cache']).toBe('MISS');
    up.handler = (_req, res) => sse(res, ['data: {"a":1}\n\n', 'data: {"error":{"message":"rate limited","type":"server_error"}}\n\n']);
    await post(relay, body('err-data'));
    expect((await post(relay, body('err-data'))).headers['x-relay-cache']).toBe('MISS');
    // The word "error" inside content is not an error event.
    up.handler = (_req, res) => sse(res, ['data: {"choices":[{"delta":{"content":"error"}}]}\n\n', 'data: [DONE]\n\n']);
    await post(relay, body('word'));
    expect((await post(relay, body('word'))).headers['x-relay-cache']).toBe('HIT');
  });

  it('does not store a stream reset by the upstream', async () => {
    up.handler = (_req, res) => sse(res, EVENTS.slice(0, 2), 'reset');
    await post(relay, body('reset')).catch(() => undefined);
    await sleep(30);
    up.handler = (_req, res) => sse(res, EVENTS);
    expect((await post(relay, body('reset'))).headers['x-relay-cache']).toBe('MISS');
    expect(up.count()).toBe(2);
  });

  it('does not store a stream whose client left before the end', async () => {
    let closed = false;
    up.handler = (_req, res) => {
      res.on('close', () => (closed = true));
      sse(res, EVENTS, 'end', 150);
    };
    const s = await open(relay.url, '/api/v1/chat/completions', { headers: WEB, body: body('abort') });
    await waitFor(() => s.text().includes('Hel'));
    s.req.destroy();
    await waitFor(() => closed, 3000, 'upstream closed after client abort');
    await sleep(400); // the upstream would have finished by now had it gone on
    up.handler = (_req, res) => sse(res, EVENTS);
    expect((await post(relay, body('abort'))).headers['x-relay-cache']).toBe('MISS');
  });

  it('stream: bypass never stores a stream (and says BYPASS), but still caches JSON', async () => {
    up.handler = (_req, res, b) => (JSON.parse(b).stream ? sse(res, EVENTS) : res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    const a = await post(bypass, body('bp'));
    expect(a.headers['x-relay-cache']).toBe('BYPASS');
    expect((await post(bypass, body('bp'))).headers['x-relay-cache']).toBe('BYPASS');
    await post(bypass, body('bp', false));
    expect((await post(bypass, body('bp', false))).headers['x-relay-cache']).toBe('HIT');
    expect(up.count()).toBe(3);
  });
});
