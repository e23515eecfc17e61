/**
 * §13 corners: `scope: shared`, HEAD, what is stored is what the client received after a
 * transform, a compressed answer never reaches a client that did not offer the encoding, a stream
 * cut by the idle timeout is not stored, followers per flight are bounded, and no exchange is
 * left in flight.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Flight, type Follower } from '../../src/cache/flight.js';
import { Recorder } from '../../src/cache/recorder.js';
import { parseConfigText } from '../../src/config/load.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { call, countingUpstream, sleep, waitFor, MOBILE, WEB, type CountingUpstream } from './helpers.js';
import { ChurnMap } from '../../src/util/churn-map.js';

const dir = path.dirname(fileURLToPath(import.meta.url));

const yaml = (upstream: string) => `clients: { web: tok-web, mobile: tok-mobile }
routes:
  - name: shared
    prefix: /shared
    upstream: ${upstream}
    auth: [web, mobile]
    cache: { paths: ["/models"], scope: shared }
  - name: private
    prefix: /private
    upstream: ${upstream}
    auth: [web, mobile]
    idleTimeout: 200ms
    cache: { paths: ["/models", "/gz", "/sse"], methods: [GET, HEAD, POST] }
  - name: beat
    prefix: /beat
    upstream: ${upstream}
    auth: [web]
    heartbeat: 100ms
    cache: { paths: ["/sse"], methods: [POST] }
  - name: upper
    prefix: /upper
    upstream: ${upstream}
    auth: [web]
    transforms:
      - module: ./fixtures/upper.mjs
    cache: { paths: ["/x"] }
`;

describe('response cache: corners', () => {
  let up: CountingUpstream;
  let relay: TestRelay;

  beforeAll(async () => {
    up = await countingUpstream();
    relay = await startTestRelay(yaml(up.url), { dir });
  });
  afterAll(async () => {
    await relay.close();
    await up.close();
  });
  beforeEach(() => {
    up.calls.length = 0;
    up.handler = (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n: up.calls.length, m: req.method }));
  });

  it('scope shared: one client\'s answer serves another; scope client does not', async () => {
    await call(relay.url, '/shared/models', { headers: WEB });
    expect((await call(relay.url, '/shared/models', { headers: MOBILE })).headers['x-relay-cache']).toBe('HIT');
    await call(relay.url, '/private/models', { headers: WEB });
    expect((await call(relay.url, '/private/models', { headers: MOBILE })).headers['x-relay-cache']).toBe('MISS');
    expect(up.count()).toBe(3);
  });

  it('HEAD answers are cached apart from GET, with their Content-Length', async () => {
    up.handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' });
      res.end(req.method === 'HEAD' ? undefined : '{"a":"abc"}');
    };
    const h1 = await call(relay.url, '/private/models?head', { method: 'HEAD', headers: WEB });
    const h2 = await call(relay.url, '/private/models?head', { method: 'HEAD', headers: WEB });
    expect(h2.headers['x-relay-cache']).toBe('HIT');
    expect(h2.headers['content-length']).toBe('11');
    expect(h1.body + h2.body).toBe('');
    const g = await call(relay.url, '/private/models?head', { headers: WEB });
    expect(g.headers['x-relay-cache']).toBe('MISS');
    expect(g.body).toBe('{"a":"abc"}');
  });

  it('stores the bytes the client received after a transform', async () => {
    up.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"word":"quiet"}');
    const a = await call(relay.url, '/upper/x', { headers: WEB });
    expect(a.body).toBe('{"WORD":"QUIET"}');
    const b = await call(relay.url, '/upper/x', { headers: WEB });
    expect(b.headers['x-relay-cache']).toBe('HIT');
    expect(b.body).toBe('{"WORD":"QUIET"}');
    expect(up.count()).toBe(1);
  });

  it('a gzip entry is only served to clients that offered gzip', async () => {
    up.handler = (req, res) => {
      if (String(req.headers['accept-encoding']).includes('gzip')) res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync('{"z":1}'));
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"z":1}');
    };
    await call(relay.url, '/private/gz', { headers: { ...WEB, 'accept-encoding': 'gzip' } });
    const hit = await call(relay.url, '/private/gz', { headers: { ...WEB, 'accept-encoding': 'gzip' } });
    expect(hit.headers['x-relay-cache']).toBe('HIT');
    expect(hit.headers['content-encoding']).toBe('gzip');
    const plain = await call(relay.url, '/private/gz', { headers: { ...WEB, 'accept-encoding': 'identity' } });
    expect(plain.headers['x-relay-cache']).toBe('MISS');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe('{"z":1}');
  });

  it('a stream cut by the idle timeout is not stored', async () => {
    up.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n'); // then silence past idleTimeout
    };
    const body = JSON.stringify({ stream: true });
    await call(relay.url, '/private/sse', { headers: WEB, body }).catch(() => undefined);
    up.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: [DONE]\n\n');
    expect((await call(relay.url, '/private/sse', { headers: WEB, body })).headers['x-relay-cache']).toBe('MISS');
  });

  it('with heartbeat: an early-started stream records only the events, and a hit replays them', async () => {
    up.handler = (_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('data: {"slow":1}\n\ndata: [DONE]\n\n');
      }, 250);
    };
    const body = JSON.stringify({ stream: true, q: 'early' });
    const a = await call(relay.url, '/beat/sse', { headers: WEB, body });
    expect(a.body).toContain(': keep-alive');
    expect(a.body).toContain('data: [DONE]');
    const b = await call(relay.url, '/beat/sse', { headers: WEB, body });
    expect(b.headers['x-relay-cache']).toBe('HIT');
    expect(b.body).toBe('data: {"slow":1}\n\ndata: [DONE]\n\n');
    expect(up.count()).toBe(1);
  });

  it('a reload that keeps the cache settings keeps the entries', async () => {
    await call(relay.url, '/private/models?reload', { headers: WEB });
    await relay.relay.reload(parseConfigText(yaml(up.url).replace('idleTimeout: 200ms', 'idleTimeout: 300ms'), 'test.yaml', { env: {}, dir }));
    expect((await call(relay.url, '/private/models?reload', { headers: WEB })).headers['x-relay-cache']).toBe('HIT');
    expect(up.count()).toBe(1);
  });

  it('leaves no exchange in flight', async () => {
    await waitFor(() => relay.relay.inFlight().size === 0, 3000, 'no exchange in flight');
  });
});

describe('flight bounds', () => {
  it('takes at most maxFollowers; others go upstream themselves', () => {
    const flights = new ChurnMap<Flight>();
    const rec = new Recorder({ method: 'GET', maxEntrySize: 1000, replayStreams: true, now: Date.now, commit() {} });
    const f = new Flight('k', flights, rec, 2);
    const follower = (): Follower => ({ start() {}, data() {}, end() {}, cut() {}, release() {} });
    expect(f.join(follower())).toBe(true);
    expect(f.join(follower())).toBe(true);
    expect(f.join(follower())).toBe(false);
    expect(flights.get('k')).toBe(f);
    rec.head(500, {});
    expect(flights.has('k')).toBe(false); // an answer that will not be stored is not joinable
  });

  it('releases waiting followers when the answer grows past maxEntrySize', async () => {
    const flights = new ChurnMap<Flight>();
    const rec = new Recorder({ method: 'GET', maxEntrySize: 10, replayStreams: true, now: Date.now, commit() {} });
    const f = new Flight('k', flights, rec);
    let released = 0;
    f.join({ start() {}, data() {}, end() {}, cut() {}, release: () => released++ });
    rec.upstream(200, {}, {});
    rec.head(200, { 'content-type': 'application/json' });
    rec.data(Buffer.alloc(20));
    expect(released).toBe(1);
    expect(flights.size).toBe(0);
    await sleep(0);
  });
});
