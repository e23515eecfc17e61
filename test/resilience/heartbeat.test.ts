/** SSE keep-alive comments while the upstream is silent, and the early start for stream requests. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStreamingUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

async function readAll(r: Response, untilMs = 3000): Promise<{ text: string; at: { t: number; s: string }[] }> {
  const reader = r.body!.getReader();
  const dec = new TextDecoder();
  const start = Date.now();
  const at: { t: number; s: string }[] = [];
  let text = '';
  for (;;) {
    if (Date.now() - start > untilMs) break;
    const { value, done } = await reader.read();
    if (done) break;
    const s = dec.decode(value);
    at.push({ t: Date.now() - start, s });
    text += s;
  }
  return { text, at };
}

describe('heartbeat', () => {
  let up: FakeUpstream;
  let relay: TestRelay;

  beforeAll(async () => {
    up = await startStreamingUpstream((req, res) => {
      req.resume();
      if (req.url === '/pause') {
        // An event, 650 ms of silence (a thinking model), then the rest.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"n":1}\n\n');
        setTimeout(() => res.end('data: {"n":2}\n\ndata: [DONE]\n\n'), 650);
        return;
      }
      if (req.url === '/slow-first-token') {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end('data: {"n":1}\n\ndata: [DONE]\n\n');
        }, 650);
        return;
      }
      if (req.url === '/slow-error') {
        setTimeout(() => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"model overloaded"}}');
        }, 650);
        return;
      }
      res.writeHead(404).end();
    });
    relay = await startTestRelay(`
routes:
  - name: llm
    prefix: /llm
    upstream: ${up.url}
    auth: none
    heartbeat: 200ms
    retries: 0
`);
  });
  afterAll(async () => {
    await relay?.close();
    await up?.close();
  });

  it('writes `: keep-alive` at event boundaries while an SSE upstream is silent', async () => {
    const r = await fetch(`${relay.url}/llm/pause`, { headers: { accept: 'text/event-stream' } });
    const { text } = await readAll(r);
    const beats = text.split(': keep-alive\n\n').length - 1;
    expect(beats).toBeGreaterThanOrEqual(2); // ~650 ms of silence at a 200 ms cadence
    expect(beats).toBeLessThanOrEqual(4);
    // Comments sit between events, never inside one.
    expect(text.startsWith('data: {"n":1}\n\n')).toBe(true);
    expect(text).toMatch(/data: \{"n":1\}\n\n(: keep-alive\n\n)+data: \{"n":2\}\n\ndata: \[DONE\]\n\n$/);
  });

  it('a stream request (JSON "stream": true) gets an early 200 text/event-stream with comments', async () => {
    const t0 = Date.now();
    const r = await fetch(`${relay.url}/llm/slow-first-token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","stream": true}' });
    const headersAfter = Date.now() - t0;
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(headersAfter).toBeLessThan(600); // before the upstream answered (650 ms)
    const { text } = await readAll(r);
    expect(text).toMatch(/^(: keep-alive\n\n)+data: \{"n":1\}\n\ndata: \[DONE\]\n\n$/);
  });

  it('an upstream error after the early start arrives as `event: error` with the error JSON', async () => {
    const r = await fetch(`${relay.url}/llm/slow-error`, { headers: { accept: 'text/event-stream' } });
    expect(r.status).toBe(200);
    const { text } = await readAll(r);
    const m = /event: error\ndata: (.*)\n\n$/.exec(text);
    expect(m).not.toBeNull();
    const doc = JSON.parse(m![1]!);
    expect(doc.error.status).toBe(500);
    expect(doc.error.upstream.error.message).toBe('model overloaded');
  });

  it('a non-stream request is not started early', async () => {
    const r = await fetch(`${relay.url}/llm/slow-error`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":false}' });
    expect(r.status).toBe(500);
    expect(await r.text()).toBe('{"error":{"message":"model overloaded"}}');
  });
});
