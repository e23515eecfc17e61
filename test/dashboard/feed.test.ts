/**
 * The events feed (spec §14): a full snapshot on connect, then updates carrying only what is new,
 * at most one per second however busy the relay is, and a heartbeat comment after 15 s idle.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { sleep, waitFor } from '../helpers/sse.js';
import { startUpstream, type FakeUpstream } from '../helpers/upstream.js';
import { CLIENT, dashboardYaml, env, login, openEvents } from './helpers.js';

interface Doc {
  type: string;
  tail: { seq: number; path: string; status: number; route: string | null }[];
  tailSeq: number;
  routes: { route: string; requests: number; s2xx: number; s4xx: number }[];
}

let up: FakeUpstream;
let relay: TestRelay;
beforeAll(async () => {
  up = await startUpstream((req, res) => {
    res.writeHead(req.url?.includes('missing') ? 404 : 200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  relay = await startTestRelay(dashboardYaml(up.url), { env });
});
afterAll(async () => {
  await relay?.close();
  await up?.close();
});

const call = (p: string) => fetch(relay.url + p, { headers: { 'x-proxy-token': CLIENT } }).then((r) => r.text());

it('sends a snapshot on connect, then updates with only the new exchanges', async () => {
  await call('/v1/before?key=zzz');
  const cookie = await login(relay.url);
  const sse = await openEvents(`${relay.url}/_relay/events`, cookie);
  try {
    await waitFor(() => sse.events.length >= 1, 2000, 'the snapshot');
    const snap = JSON.parse(sse.events[0]!.data) as Doc;
    expect(sse.events[0]!.event).toBe('snapshot');
    expect(snap.type).toBe('snapshot');
    expect(snap.tail.map((e) => e.path)).toEqual(['/v1/before']);
    expect(snap.routes.find((r) => r.route === 'api')?.requests).toBe(1);

    await call('/v1/a');
    await call('/v1/missing');
    await waitFor(() => sse.events.length >= 2, 3000, 'an update');
    const upd = JSON.parse(sse.events[1]!.data) as Doc;
    expect(sse.events[1]!.event).toBe('update');
    expect(upd.tail.map((e) => [e.path, e.status])).toEqual([['/v1/a', 200], ['/v1/missing', 404]]);
    expect(upd.tail[0]!.seq).toBe(snap.tailSeq + 1);
    const row = upd.routes.find((r) => r.route === 'api')!;
    expect([row.requests, row.s2xx, row.s4xx]).toEqual([3, 2, 1]);

    // Nothing happens: no update is sent.
    await sleep(2500);
    expect(sse.events).toHaveLength(2);
  } finally {
    sse.close();
  }
});

it('coalesces a burst of 1,000 requests into at most one update per second, losing none', async () => {
  const cookie = await login(relay.url);
  const sse = await openEvents(`${relay.url}/_relay/events`, cookie);
  try {
    await waitFor(() => sse.events.length >= 1, 2000, 'the snapshot');
    const first = (JSON.parse(sse.events[0]!.data) as Doc).tailSeq;
    const t0 = Date.now();
    for (let i = 0; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => call(`/v1/burst/${i + j}`)));
    const burstMs = Date.now() - t0;
    const seen = () => sse.events.slice(1).flatMap((e) => (JSON.parse(e.data) as Doc).tail.map((t) => t.seq));
    await waitFor(() => seen().filter((s) => s > first).length >= 1000, 4000, 'all 1,000 exchanges in updates');
    const updates = sse.events.slice(1);
    // One update per tick: consecutive updates at least ~1 s apart (timer jitter allowed).
    for (let i = 1; i < updates.length; i++) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(900);
    expect(updates.length).toBeLessThanOrEqual(Math.ceil(burstMs / 1000) + 2);
    const seqs = seen().filter((s) => s > first);
    expect(new Set(seqs).size).toBe(1000);
  } finally {
    sse.close();
  }
});

it('sends a heartbeat comment after 15 s without an update', async () => {
  const cookie = await login(relay.url);
  const sse = await openEvents(`${relay.url}/_relay/events`, cookie);
  try {
    await waitFor(() => sse.events.length >= 1, 2000, 'the snapshot');
    await sleep(13_000);
    expect(sse.comments).toEqual([]);
    await waitFor(() => sse.comments.length >= 1, 4000, 'a heartbeat').catch((err) => {
      throw new Error(`${(err as Error).message}; events: ${sse.events.map((e) => e.event).join(',')}`);
    });
    expect(sse.comments[0]).toBe(': heartbeat');
    expect(sse.events).toHaveLength(1);
  } finally {
    sse.close();
  }
}, 25_000);

it('fills user, usage and cache from the exchange when §11-§13 set them', async () => {
  // Stands in for the JWT, usage and cache code of other branches: they set these fields on the
  // exchange before it is done; the dashboard only reads them.
  const state = relay.relay.state;
  const done = state.onExchangeDone!;
  let n = 0;
  state.onExchangeDone = (x) => {
    n++;
    x.user = n % 2 ? 'alice' : 'bob';
    x.usage = { input: 10, output: 20, total: 30, ...(n === 3 ? { estimated: true } : {}) };
    x.cache = n % 2 ? 'hit' : 'miss';
    done(x);
  };
  try {
    for (let i = 0; i < 4; i++) await call(`/v1/metered/${i}`);
  } finally {
    state.onExchangeDone = done;
  }
  const cookie = await login(relay.url);
  const snap = (await (await fetch(`${relay.url}/_relay/api/snapshot`, { headers: { cookie } })).json()) as {
    tail: { path: string; user: string | null; usage: unknown; cache: string | null }[];
    usage: { configured: boolean; rows: { who: string; kind: string; requests: number; total: number }[] };
    cache: { configured: boolean; hit: number; miss: number; ratio: number };
    routes: { route: string; tokens: number }[];
  };
  const metered = snap.tail.filter((e) => e.path.startsWith('/v1/metered/'));
  expect(metered.map((e) => [e.user, e.cache])).toEqual([['alice', 'hit'], ['bob', 'miss'], ['alice', 'hit'], ['bob', 'miss']]);
  expect(metered[2]!.usage).toEqual({ input: 10, output: 20, total: 30, estimated: true });
  expect(snap.usage.configured).toBe(true);
  expect(snap.usage.rows.filter((r) => r.kind === 'user').map((r) => [r.who, r.requests, r.total]).sort()).toEqual([['alice', 2, 60], ['bob', 2, 60]]);
  expect(snap.cache).toMatchObject({ configured: true, hit: 2, miss: 2, ratio: 0.5 });
  expect(snap.routes.find((r) => r.route === 'api')!.tokens).toBe(120);
});
