/**
 * §13 single flight: identical requests in flight share one upstream call; late joiners of a
 * stream get what was sent so far, then the rest; a leaving follower affects no one; the upstream
 * call is aborted only when every client left; a failed leader is not cached and each waiter
 * goes upstream on its own.
 */
import type http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { cachedRoute, call, countingUpstream, open, sleep, waitFor, WEB, type CountingUpstream } from './helpers.js';

describe('response cache: single flight', () => {
  let up: CountingUpstream;
  let relay: TestRelay;
  let release: (() => void) | undefined;
  const held = () => new Promise<void>((r) => (release = r));

  beforeAll(async () => {
    up = await countingUpstream();
    relay = await startTestRelay(
      cachedRoute(
        up.url,
        `      paths: ["/v1/embeddings", "/v1/chat/completions"]
      methods: [POST]`,
      ),
    );
  });
  afterAll(async () => {
    await relay.close();
    await up.close();
  });
  beforeEach(() => {
    up.calls.length = 0;
    release = undefined;
  });

  const post = (tag: string, path = '/api/v1/embeddings') => call(relay.url, path, { headers: WEB, body: JSON.stringify({ input: tag }) });

  it('N identical JSON requests make one upstream call; all get the answer', async () => {
    const gate = held();
    up.handler = (_req, res) => void gate.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"v":[1,2,3]}'));
    const all = Array.from({ length: 8 }, () => post('same'));
    await waitFor(() => up.count() >= 1);
    await sleep(50);
    release!();
    const answers = await Promise.all(all);
    expect(up.count()).toBe(1);
    expect(answers.every((a) => a.status === 200 && a.body === '{"v":[1,2,3]}')).toBe(true);
    expect(answers.filter((a) => a.headers['x-relay-cache'] === 'MISS')).toHaveLength(1);
    expect(answers.filter((a) => a.headers['x-relay-cache'] === 'HIT')).toHaveLength(7);
    const lines = relay.lines().filter((l) => l.path === '/api/v1/embeddings' && l.status === 200);
    expect(lines.filter((l) => l.cache === 'hit').length).toBeGreaterThanOrEqual(7);
  });

  it('a failed leader (500) is not cached and each waiter goes upstream on its own', async () => {
    const gate = held();
    let n = 0;
    up.handler = (_req, res) => {
      n++;
      if (n === 1) void gate.then(() => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom"}}'));
      else res.writeHead(200, { 'content-type': 'application/json' }).end(`{"n":${n}}`);
    };
    const all = [post('fail'), post('fail'), post('fail')];
    await waitFor(() => up.count() >= 1);
    await sleep(50);
    expect(up.count()).toBe(1);
    release!();
    const answers = await Promise.all(all);
    expect(answers.filter((a) => a.status === 500)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(2);
    expect(up.count()).toBe(3);
  });

  it('a leader reset before its head releases the waiters to go upstream themselves', async () => {
    const gate = held();
    let n = 0;
    up.handler = (req, res) => {
      n++;
      if (n === 1) void gate.then(() => req.socket.destroy());
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":1}');
    };
    const leader = post('reset').catch(() => ({ status: 0, body: '', headers: {} }));
    await waitFor(() => up.count() >= 1);
    const waiters = [post('reset'), post('reset')];
    await sleep(50);
    expect(up.count()).toBe(1); // the waiters wait for the leader
    release!();
    const [l, ...w] = await Promise.all([leader, ...waiters]);
    expect(l.status).toBe(502);
    expect(w.map((a) => a.status)).toEqual([200, 200]);
  });

  it('a waiter that leaves affects no one; the leader still stores', async () => {
    const gate = held();
    up.handler = (_req, res) => void gate.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"kept":1}'));
    const leader = post('leave');
    await waitFor(() => up.count() >= 1);
    const w = await new Promise<http.ClientRequest>((resolve) => {
      void import('node:http').then((http) => {
        const req = http.request(relay.url + '/api/v1/embeddings', { method: 'POST', headers: { ...WEB, 'content-type': 'application/json' }, agent: false });
        req.on('error', () => undefined);
        req.end(JSON.stringify({ input: 'leave' }));
        resolve(req);
      });
    });
    await sleep(50);
    w.destroy();
    await sleep(30);
    release!();
    const l = await leader;
    expect(l.status).toBe(200);
    expect((await post('leave')).headers['x-relay-cache']).toBe('HIT');
    expect(up.count()).toBe(1);
  });

  it('stream: a late joiner gets the events already sent, then the rest; one upstream call', async () => {
    const gate = held();
    up.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      void gate.then(async () => {
        res.write('data: {"n":2}\n\n');
        await sleep(10);
        res.end('data: [DONE]\n\n');
      });
    };
    const body = JSON.stringify({ stream: true, input: 'sse' });
    const a = await open(relay.url, '/api/v1/chat/completions', { headers: WEB, body });
    await waitFor(() => a.text().includes('"n":1'));
    const b = await open(relay.url, '/api/v1/chat/completions', { headers: WEB, body });
    await waitFor(() => b.text().includes('"n":1'));
    expect(b.res.headers['x-relay-cache']).toBe('HIT');
    release!();
    const [ta, tb] = await Promise.all([a.ended, b.ended]);
    expect(tb).toBe(ta);
    expect(ta).toBe('data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
    expect(up.count()).toBe(1);
  });

  it('stream: the leader leaving does not stop the follower; the last one leaving aborts upstream', async () => {
    const gate = held();
    let upstreamClosed = false;
    up.handler = (_req, res) => {
      res.on('close', () => (upstreamClosed = true));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      void gate.then(() => res.end('data: {"n":2}\n\ndata: [DONE]\n\n'));
    };
    const body = JSON.stringify({ stream: true, input: 'leader-leaves' });
    const a = await open(relay.url, '/api/v1/chat/completions', { headers: WEB, body });
    await waitFor(() => a.text().includes('"n":1'));
    const b = await open(relay.url, '/api/v1/chat/completions', { headers: WEB, body });
    await waitFor(() => b.text().includes('"n":1'));
    a.req.destroy();
    await sleep(50);
    expect(upstreamClosed).toBe(false);
    release!();
    expect(await b.ended).toBe('data: {"n":1}\n\ndata: {"n":2}\n\ndata: [DONE]\n\n');
    // The answer completed: stored, though its first client left.
    expect((await call(relay.url, '/api/v1/chat/completions', { headers: WEB, body })).headers['x-relay-cache']).toBe('HIT');

    // Now everyone leaves: the upstream call is aborted.
    const gate2 = held();
    upstreamClosed = false;
    up.handler = (_req, res) => {
      res.on('close', () => (upstreamClosed = true));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      void gate2.then(() => !res.destroyed && res.end('data: [DONE]\n\n'));
    };
    const body2 = JSON.stringify({ stream: true, input: 'all-leave' });
    const c = await open(relay.url, '/api/v1/chat/completions', { headers: WEB, body: body2 });
    await waitFor(() => c.text().includes('"n":1'));
    const d = await open(relay.url, '/api/v1/chat/completions', { headers: WEB, body: body2 });
    await waitFor(() => d.text().includes('"n":1'));
    c.req.destroy();
    await sleep(50);
    expect(upstreamClosed).toBe(false);
    d.req.destroy();
    await waitFor(() => upstreamClosed, 3000, 'upstream aborted after the last client left');
    release!();
  });

  it('a leader that stops reading is dropped after sendTimeout; the follower still gets the whole stream', async () => {
    const slow = await startTestRelay(
      cachedRoute(up.url, `      paths: ["/v1/chat/completions"]
      methods: [POST]`).replace('clients:', 'server: { limits: { sendTimeout: 300ms } }\nclients:'),
    );
    try {
      const gate = held();
      const event = `data: {"pad":"${'p'.repeat(1000)}"}\n\n`;
      const count = 12_000; // ~12 MB: far more than socket buffers hold for a client that reads nothing
      up.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        void gate.then(async () => {
          for (let i = 0; i < count; i++) {
            if (!res.write(event)) await new Promise((r) => res.once('drain', r));
          }
          res.end('data: [DONE]\n\n');
        });
      };
      const body = JSON.stringify({ stream: true, input: 'slow-leader' });
      const leader = await open(slow.url, '/api/v1/chat/completions', { headers: WEB, body });
      leader.res.pause(); // reads nothing from here on
      const follower = await open(slow.url, '/api/v1/chat/completions', { headers: WEB, body });
      expect(follower.res.headers['x-relay-cache']).toBe('HIT');
      release!();
      const text = await follower.ended;
      expect(text.length).toBe(event.length * count + 'data: [DONE]\n\n'.length);
      expect(up.count()).toBe(1);
      await waitFor(() => slow.lines().some((l) => String(l.outcome ?? '').includes('sendTimeout')), 3000, 'leader dropped');
      leader.req.destroy();
    } finally {
      await slow.close();
    }
  });

  it('leaves no exchange in flight and no flight open', async () => {
    await waitFor(() => relay.relay.inFlight().size === 0, 3000, 'no exchange in flight');
    for (const r of relay.relay.table().routes) expect(r.cache?.shared.flights.size ?? 0).toBe(0);
  });
});
